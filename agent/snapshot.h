#ifndef NC_AGENT_SNAPSHOT_H
#define NC_AGENT_SNAPSHOT_H
/*
 * agent/snapshot.h - internal to agent/: serf's -snapshot file, i.e. what
 * an agent needs to resume after a restart: the members it knew and their
 * addresses (for -rejoin), its own coordinate and the coordinate client's
 * peer state, the coordinate cache, whether it left gracefully, and when
 * the file was written. The format (a versioned JSON object) is described
 * at the top of agent/snapshot.c.
 *
 *   capture (loop, plain copies) -> writer thread: encode, write atomic
 *   load (start): read, decode, validate -> restore (agent.c)
 *
 * Every error message names the file and the problem.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/coords.h"
#include "coord/coord.h"
#include "gossip/env.h"

/** Format version written; files with a higher one are refused. */
#define NC_AGENT_SNAP_VERSION 1
/** Largest snapshot file read or written (~100 MiB holds 100k members). */
#define NC_AGENT_SNAP_MAX_BYTES (256u * 1024 * 1024)

/** One member to rejoin. */
struct nc__agent_snap_member {
	char name[NC_AGENT_COORDS_NAME_CAP];
	struct nc_addr addr;
};

/** Everything a snapshot holds, as plain data (all arrays malloc'd). */
struct nc__agent_snap {
	/** Format version read (NC_AGENT_SNAP_VERSION when written). */
	int version;
	/** The node that wrote it. */
	char node[NC_AGENT_COORDS_NAME_CAP];
	/** Wall-clock time of the write, Unix seconds. */
	double written_unix;
	/** The agent had left gracefully (serf's "leave" line). */
	bool left;
	/** The coordinate client: own coordinate and more; peers. */
	struct nc_coord_client_state client;
	struct nc_coord_peer_state *peers;
	size_t peers_n;
	/** Members alive or suspect when written (self excluded). */
	struct nc__agent_snap_member *members;
	size_t members_n;
	/** The coordinate cache (self excluded). */
	struct nc_agent_coord_saved *coords;
	size_t coords_n;
};

/** Free the arrays; @a s is empty (zeroed) afterwards. */
void nc__agent_snap_clear(struct nc__agent_snap *s);

/**
 * Encode @a s as JSON into *out (malloc'd, NUL-terminated; *len bytes).
 * @retval 0, -ENOMEM, -E2BIG (over NC_AGENT_SNAP_MAX_BYTES).
 */
int nc__agent_snap_encode(const struct nc__agent_snap *s, char **out,
			  size_t *len);

/**
 * Decode @a len bytes of @a text into @a s (cleared first), checking
 * every value. On error @a s is empty and @a why says what is wrong:
 * "empty", "truncated ...", "corrupt ...", "not a netcoord snapshot ...",
 * "format version N is newer ...", "bad \"field\" ...".
 * @retval 0 or -EINVAL.
 */
int nc__agent_snap_decode(const char *text, size_t len,
			  struct nc__agent_snap *s, char *why, size_t cap);

/**
 * Read and decode @a path. @retval 1 loaded, 0 no such file, <0 a file
 * that cannot be used (message "PATH: problem" in @a why).
 */
int nc__agent_snap_load(const char *path, struct nc__agent_snap *s,
			char *why, size_t cap);

/** Encode and write @a s to @a path atomically (mode 0600), now. */
int nc__agent_snap_save(const char *path, const struct nc__agent_snap *s,
			char *why, size_t cap);

/** The current wall-clock time, Unix seconds (for written_unix). */
double nc__agent_snap_wall_now(void);

/**
 * A writer thread: encoding and fsync of a large snapshot happen off the
 * loop. One write at a time; the loop hands it a captured snapshot.
 */
struct nc__agent_snap_writer;

/** Start the thread for @a path (copied). NULL on failure (-errno in rc). */
struct nc__agent_snap_writer *nc__agent_snap_writer_new(const char *path,
							int *rc);

/**
 * Hand @a s over (its arrays are taken, @a s is left empty) to be written.
 * @retval 0 queued; -EBUSY a write is still running (s untouched).
 */
int nc__agent_snap_writer_submit(struct nc__agent_snap_writer *w,
				 struct nc__agent_snap *s);

/** A write is queued or running. */
bool nc__agent_snap_writer_busy(struct nc__agent_snap_writer *w);

/**
 * Outcome of the writes finished since the last call: 1 a write failed
 * (why in @a why, the latest), 0 none failed. @a dur_s (may be NULL): the
 * longest write time seen since the last call.
 */
int nc__agent_snap_writer_poll(struct nc__agent_snap_writer *w, char *why,
			       size_t cap, double *dur_s);

/**
 * Wait for the queued write (if any) and stop the thread (its outcome is
 * not reported). NULL: no-op.
 */
void nc__agent_snap_writer_delete(struct nc__agent_snap_writer *w);

#endif /* NC_AGENT_SNAPSHOT_H */
