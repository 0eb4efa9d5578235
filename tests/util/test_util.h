/*
 * tests/util/test_util.h - suite registration of the util test binary.
 */
#ifndef NC_TEST_UTIL_H
#define NC_TEST_UTIL_H

/* One per source file. Each returns 0 or -1. */
int nc_test_hmap_register(void);
int nc_test_rng_register(void);
int nc_test_dbuf_register(void);
int nc_test_rtt_matrix_register(void);
int nc_test_parse_register(void);
int nc_test_file_register(void);

#endif /* NC_TEST_UTIL_H */
