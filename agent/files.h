#ifndef NC_AGENT_FILES_H
#define NC_AGENT_FILES_H
/*
 * agent/files.h - internal to agent/: the keyring file and the tags file
 * on disk, in serf's formats (-keyring-file: a JSON array of base64 keys,
 * primary first; -tags-file: a JSON object of strings). Files are written
 * with nc_file_write_atomic (util/util.h), mode 0600. Every error message
 * names the file.
 */
#include <stddef.h>

struct nc_config_tag;
struct nc_crypto_keyring;

/** Largest keyring or tags file read. Nothing special in this value. */
#define NC_AGENT_FILE_MAX (64 * 1024)

/**
 * Read a whole small file into *out (malloc, NUL-terminated; free it).
 * @retval 0 ok, -ENOENT missing (no message), other <0 (message in err).
 */
int nc__agent_file_read(const char *path, char **out, char *err, size_t cap);

/**
 * Install the keys of keyring file @a path into @a kr (empty), primary
 * first. @retval 1 loaded, 0 no such file, <0 bad file (message in err).
 */
int nc__agent_keyring_file_load(const char *path,
				struct nc_crypto_keyring *kr, char *err,
				size_t cap);

/** Write @a kr's keys to @a path. @retval 0 or <0 (message in err). */
int nc__agent_keyring_file_save(const char *path,
				const struct nc_crypto_keyring *kr, char *err,
				size_t cap);

/** Write @a n tags to @a path. @retval 0 or <0 (message in err). */
int nc__agent_tags_file_save(const char *path, const struct nc_config_tag *tags,
			     size_t n, char *err, size_t cap);

#endif /* NC_AGENT_FILES_H */
