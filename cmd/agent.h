/*
 * agent.h - `netcoord agent`: a gossip agent that joins serf 0.9.4 clusters
 * (flags and config keys: agent/config.h).
 */
#ifndef NC_CMD_AGENT_H
#define NC_CMD_AGENT_H

/**
 * Run `netcoord agent` with argv[0] = "agent" and argv[1..] its flags.
 * Runs until SIGTERM/SIGINT, then leaves the cluster gracefully; SIGHUP
 * (or PUT /v1/agent/reload) re-reads the configuration from the same
 * argv, which must therefore stay valid while it runs (main's does).
 * @retval 0 clean exit (also after -h); 2 configuration error (message
 *         on stderr naming the field); 1 other start-up failure.
 */
int
nc_cmd_agent(int argc, char **argv);

#endif /* NC_CMD_AGENT_H */
