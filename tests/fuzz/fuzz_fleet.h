#ifndef NC_TESTS_FUZZ_FLEET_H
#define NC_TESTS_FUZZ_FLEET_H
/*
 * tests/fuzz/fuzz_fleet.h - what the stateful fuzz targets (fuzz_agent.c,
 * fuzz_http.c) and their seed generator (fuzz_seeds.c) share: starting a
 * real agent (agent/agent.h) on a simulator node (sim/sim.h) from a
 * JSON config, as `netcoord agent` and tests/api/harness.c do, and the
 * byte layout of a fuzz_agent input (records), so that the generator
 * writes what the target reads; the time each unit takes.
 *
 * fuzz_agent input:
 *
 *   header u8     bits 0-1: real peers (value % 3, joined to the target)
 *                 bit 2: keyed cluster (FF_KEY_B64; fake peers encrypt)
 *                 bit 3: run on a freshly built world (else the world of
 *                 this variant lives on from earlier inputs)
 *   record*       kind u8 (low 4 bits: enum ff_rec, high 4: flags), then
 *                 the fields listed at each kind; a record cut short by
 *                 the end of the input reads zeros. Integers little-endian.
 *
 * Senders ("from" bytes, value % (FF_FAKES + peers)): 0..3 are fake peers
 * (simulator nodes without gossip: the harness speaks for them), 4.. are
 * the real peers' addresses (spoofed: the real peer never sent it).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"
#include "sim/sim.h"

/** Fake peers of fuzz_agent (simulator nodes the harness speaks for). */
#define FF_FAKES 4
/** Real peers of fuzz_agent at most (agents joined to the target). */
#define FF_PEERS_MAX 2
/** The gossip key of keyed inputs: bytes 00..1f. */
#define FF_KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

/** Header bits of a fuzz_agent input. */
enum {
	FF_HDR_PEERS = 3,
	FF_HDR_KEYED = 4,
	FF_HDR_FRESH = 8,
};

/** Record kinds of a fuzz_agent input (the low 4 bits of the kind byte). */
enum ff_rec {
	/**
	 * UDP datagram: from u8, len u16, bytes. Flags: 0x10 CRC-wrap,
	 * 0x20 compress-wrap, 0x40 encrypt (keyed inputs).
	 */
	FF_REC_UDP = 0,
	/**
	 * TCP stream request (one message, the simulator passes it whole):
	 * from u8, len u16, bytes. Flags: 0x10 expect a reply, 0x20
	 * compress, 0x40 encrypt (keyed inputs).
	 */
	FF_REC_STREAM = 1,
	/** Advance virtual time: ms u16 (per input capped, fuzz_agent.c). */
	FF_REC_ADVANCE = 2,
	/**
	 * One gossip message built with gossip/proto.h, sent as a datagram:
	 * from u8, type u8 (enum ff_msg), then the fields of that type (see
	 * craft() in fuzz_agent.c). Flags as FF_REC_UDP.
	 */
	FF_REC_CRAFT = 3,
	/**
	 * Push/pull built with the encoders, sent as a stream: from u8,
	 * join u8, n u8 (<= 32) node states (name, addr, state, incarnation,
	 * meta, vsn), user state len u8 + bytes. Flags as FF_REC_STREAM.
	 */
	FF_REC_PUSHPULL = 4,
	/** Control: op u8 (enum ff_op), arg u8, arg2 u16. */
	FF_REC_CONTROL = 5,
	/**
	 * What fake peer (u8 % FF_FAKES) answers to a stream the agent
	 * opens to it: len u16, bytes (flag 0x40: stream-encrypt them).
	 */
	FF_REC_REPLY = 6,
	FF_REC_KINDS = 7,
};

/** Message types of FF_REC_CRAFT. */
enum ff_msg {
	FF_MSG_ALIVE = 0,
	FF_MSG_SUSPECT,
	FF_MSG_DEAD,
	FF_MSG_PING,
	FF_MSG_INDIRECT,
	/** Ack of the last ping the fake peer received (+ coordinate). */
	FF_MSG_ACK,
	FF_MSG_NACK,
	FF_MSG_SERF_JOIN,
	FF_MSG_SERF_LEAVE,
	/** netcoord coordinate message (docs/WIRE.md §5): gossip (kind 1);
	 * an entry-count byte >= 0xf0 makes it a fetch request (kind 2,
	 * even) or reply (kind 3, odd; one entry about the sender). */
	FF_MSG_COORDS,
	FF_MSG_TYPES,
};

/** Control operations of FF_REC_CONTROL. */
enum ff_op {
	FF_OP_LEAVE_TARGET = 0,
	FF_OP_LEAVE_PEER,
	FF_OP_PAUSE_PEER,     /**< arg: peer, arg2: ms */
	FF_OP_DOWN_PEER,      /**< toggle */
	FF_OP_AUTO_ACK,       /**< arg: fake peer, arg2: coordinate shape */
	FF_OP_KEY_INSTALL,    /**< arg: key index */
	FF_OP_KEY_USE,
	FF_OP_KEY_REMOVE,
	FF_OP_PAUSE_TARGET,   /**< arg2: ms */
	/** The target fetches coordinates (agent/coords.h, as a query
	 * would): arg: a bit per name of fuzz_agent.c names[], arg2: the
	 * age that counts as fresh, 0.01 s. */
	FF_OP_FETCH,
	FF_OPS,
};

/**
 * Start a real agent named @a name on simulator node @a sn: the JSON
 * config `{"node_name": name, "tags": {tags_json}, "encrypt": key}` (key
 * may be NULL), joining @a join (may be NULL); @a plain_wire sends
 * uncompressed (agent/config.h compression_off: for a target that does
 * not study the wire). NULL on failure (the reason printed to stderr).
 */
struct nc_agent *ff_agent_new(struct sim_node *sn, const char *name,
			      const char *tags_json, const char *key_b64,
			      const struct nc_addr *join, bool plain_wire);

/** Log hook that drops every line (formatted, so that path runs too). */
void ff_log_quiet(void *ctx, struct sim_world *w, int node,
		  enum nc_log_level level, const char *module, const char *msg);

/** Slowest unit allowed (issue 9), s; slower ones are reported. */
#define FF_SLOW_UNIT_S 0.05

/**
 * A unit starts (call it again after building a world: setup is the
 * harness's time, not the code under test's).
 */
void ff_unit_start(void);
/**
 * The unit (@a data, @a size) is done: if it took FF_SLOW_UNIT_S or more
 * (libFuzzer's -report_slow_units counts whole seconds only), print it
 * to stderr and write the first FF_SLOW_UNITS_KEPT such inputs to
 * `<target>-slow-<ms>ms-<pid>-<n>.bin` in the working directory (replay one
 * with `./<target> FILE`); keep the slowest, printed at exit.
 */
void ff_unit_done(const char *target, const uint8_t *data, size_t size);

/** Slow inputs written to files per process. */
#define FF_SLOW_UNITS_KEPT 16

#endif /* NC_TESTS_FUZZ_FLEET_H */
