#ifndef NC_CMD_FLEET_SIM_H
#define NC_CMD_FLEET_SIM_H
/* fleet_sim.h - `netcoord fleet-sim` (fleet_sim.c). */
int nc_cmd_fleet_sim(int argc, char **argv);
#endif
