/*
 * sim.h - `netcoord sim`: the coordinate accuracy simulator.
 */
#ifndef NC_CMD_SIM_H
#define NC_CMD_SIM_H

/**
 * Run `netcoord sim` with argv[0] = "sim" and argv[1..] its flags (see
 * the usage text in cmd/sim.c). Prints results to stdout, errors to
 * stderr.
 * @retval 0 success; 2 bad arguments or bad matrix file; 1 other failure.
 */
int nc_cmd_sim(int argc, char **argv);

#endif /* NC_CMD_SIM_H */
