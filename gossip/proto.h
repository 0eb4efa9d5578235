/*
 * gossip/proto.h - memberlist 0.2.2 / serf 0.9.4 wire format: message
 * structs, encoders and decoders. No I/O, no state, no allocation except
 * where a function name says so (_alloc).
 *
 * Conventions (see PROTOCOL.md §1-§3, §7):
 *
 *  - Encoders write a COMPLETE message into a caller buffer: the type byte
 *    followed by the msgpack body (`nc_proto_encode_ping` writes `00 85 ...`).
 *    They take `(char *buf, size_t cap, ...)` and return the number of bytes
 *    written (> 0), or NC_PROTO_ENOSPC if it does not fit (the buffer
 *    content is then undefined), or NC_PROTO_EINVAL for arguments Go could
 *    not have produced. They emit exactly what Go emits: keys sorted
 *    byte-wise, raw strings (fixstr / 0xda / 0xdb, never str8 or bin),
 *    minimal unsigned integers, nil for empty optional []byte fields,
 *    omitempty fields left out.
 *
 *  - Decoders consume the BODY (what follows the type byte, which the
 *    dispatcher has already read): `int nc_proto_decode_xxx(const char **pos,
 *    const char *end, struct nc_proto_xxx *out)`. They return 0 and advance
 *    *pos past the body, or a negative NC_PROTO_E* code (then *pos and *out
 *    are unspecified). NC_PROTO_ETRUNC is returned ONLY when the input ended
 *    in the middle of an item: the stream scanner relies on that.
 *    Decoders are as lenient as go-msgpack 0.5.5 (any key order, unknown
 *    keys skipped, missing keys = zero, str8/bin8/16/32 accepted for []byte
 *    fields, nil = empty, any integer width with a range check, bool from
 *    0/1) and as strict (bin for a Go *string* field is NC_PROTO_EFORMAT).
 *
 *  - Strings and byte slices in decoded structs are BORROWED: they point
 *    into the input buffer (struct nc_proto_str) and are valid only as long
 *    as that buffer. They are not NUL-terminated. A nil or missing field
 *    decodes as {NULL, 0}.
 *
 * Layering of a UDP datagram (outermost first; see nc_proto_packet_walk):
 *
 *   [encryption, crypto.h] -> [12 CRC] -> [9 compress | 7 compound | msg]
 *
 * WARNING: the numeric values of enum nc_proto_type are part of the
 * protocol itself. ONLY APPEND.
 */
#ifndef NC_GOSSIP_PROTO_H
#define NC_GOSSIP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Constants                                                          */
/* ------------------------------------------------------------------ */

/**
 * Message type byte (PROTOCOL.md §1.1). WARNING: ONLY APPEND TO THIS LIST!
 * The numeric values are part of the protocol (Go iota, memberlist net.go).
 */
enum nc_proto_type {
	NC_PROTO_PING = 0,		/**< ping, UDP and TCP fallback */
	NC_PROTO_INDIRECT_PING = 1,	/**< indirectPingReq, UDP */
	NC_PROTO_ACK = 2,		/**< ackResp, UDP and TCP fallback */
	NC_PROTO_SUSPECT = 3,		/**< suspect gossip */
	NC_PROTO_ALIVE = 4,		/**< alive gossip */
	NC_PROTO_DEAD = 5,		/**< dead gossip (From == Node: left) */
	NC_PROTO_PUSH_PULL = 6,		/**< push/pull, TCP only */
	NC_PROTO_COMPOUND = 7,		/**< compound of several messages, UDP */
	NC_PROTO_USER = 8,		/**< user (serf) message */
	NC_PROTO_COMPRESS = 9,		/**< LZW compress wrapper */
	NC_PROTO_ENCRYPT = 10,		/**< encrypted stream frame, TCP only */
	NC_PROTO_NACK = 11,		/**< nackResp, UDP */
	NC_PROTO_HAS_CRC = 12,		/**< CRC-32 wrapper, UDP outermost */
	NC_PROTO_ERR = 13,		/**< errResp, TCP only */
	/** Label header of newer memberlist; NOT in 0.2.2, always rejected. */
	NC_PROTO_HAS_LABEL = 244,
};

/**
 * Error codes of the gossip codec and of crypto.h. All negative, outside
 * the -errno range, distinct so that callers can count drops by reason.
 * Turn them into text with nc_proto_strerror().
 */
enum nc_proto_error {
	NC_PROTO_OK = 0,
	NC_PROTO_ETRUNC = -1001,	/**< input ended inside an item */
	NC_PROTO_EFORMAT = -1002,	/**< malformed / wrong msgpack type */
	NC_PROTO_ETYPE = -1003,		/**< unsupported message type byte */
	NC_PROTO_ECRC = -1004,		/**< CRC-32 mismatch */
	NC_PROTO_ETOOBIG = -1005,	/**< a size limit was exceeded */
	NC_PROTO_ENOSPC = -1006,	/**< output buffer too small (encoders) */
	NC_PROTO_ERANGE = -1007,	/**< integer out of range of the Go type */
	NC_PROTO_EALGO = -1008,		/**< unknown compression algorithm */
	NC_PROTO_ELZW = -1009,		/**< corrupt LZW stream */
	NC_PROTO_EVERSION = -1010,	/**< unsupported payload version byte */
	NC_PROTO_EDEPTH = -1011,	/**< wrappers nested too deeply */
	NC_PROTO_EINVAL = -1012,	/**< invalid argument to an encoder */
	NC_PROTO_EEMPTY = -1013,	/**< zero-length message (crashes Go) */
	NC_PROTO_ENOMEM = -1014,	/**< allocation failed (_alloc only) */
	/* crypto.h */
	NC_CRYPTO_EDECRYPT = -1020,	/**< no installed key could open it */
	NC_CRYPTO_EKEYLEN = -1021,	/**< key is not 16, 24 or 32 bytes */
	NC_CRYPTO_EBASE64 = -1022,	/**< key string is not valid base64 */
	NC_CRYPTO_ENOKEY = -1023,	/**< keyring is empty */
	NC_CRYPTO_EVERSION = -1024,	/**< encryption version byte > 1 */
	NC_CRYPTO_EFULL = -1025,	/**< keyring already holds the max */
	NC_CRYPTO_ENOTFOUND = -1026,	/**< key is not installed */
	NC_CRYPTO_EPRIMARY = -1027,	/**< cannot remove the primary key */
	NC_CRYPTO_EOPENSSL = -1028,	/**< OpenSSL call failed */
	NC_CRYPTO_ERAND = -1029,	/**< random source failed */
	NC_CRYPTO_ESHORT = -1030,	/**< ciphertext shorter than minimum */
};

/** Returned by nc_proto_stream_scan() while the message is incomplete. */
#define NC_PROTO_NEED_MORE 0

/** Length of Vsn: pmin pmax pcur dmin dmax dcur (§5.1). */
#define NC_PROTO_VSN_LEN 6
/** Max Meta bytes memberlist accepts (MetaMaxSize). */
#define NC_PROTO_META_MAX 512
/** Largest UDP packet memberlist assembles (UDPBufferSize). */
#define NC_PROTO_UDP_BUFFER 1400
/** Largest datagram memberlist reads (64 KiB receive buffer). */
#define NC_PROTO_MAX_PACKET 65536
/** Compound header: type byte + part count. */
#define NC_PROTO_COMPOUND_HEADER 2
/** Compound overhead per part: uint16 length. */
#define NC_PROTO_COMPOUND_PART 2
/**
 * Max parts we put into one compound. Go 0.2.2 computes 2*N in 8 bits,
 * so N >= 128 is cut at the wrong offset (§1.3).
 */
#define NC_PROTO_COMPOUND_MAX_PARTS 127
/** Largest part of a compound (uint16 length). */
#define NC_PROTO_COMPOUND_MAX_PART 65535
/** Max stream message (maxPushStateBytes, 20 MiB), also our cap for
 * decompressed streams. */
#define NC_PROTO_MAX_STREAM (20u * 1024 * 1024)
/**
 * Decompression budget of one UDP datagram: the decompressed bytes of ALL
 * its compressed parts together (issue 9 row 4: a per-part cap let one
 * 64 KB datagram of 148 parts expand to 9.7 MB, 38 ms of CPU). Go has no
 * cap; memberlist/serf compress a whole packet of at most 1400 bytes
 * (UDPBufferSize) only when that makes it shorter, so an honest datagram
 * decompresses to well under 1400 bytes; 64 KiB (the largest datagram)
 * leaves a wide margin and bounds the LZW work per datagram to ~0.3 ms
 * (a 64 KiB LZW input could otherwise expand to ~170 MiB).
 */
#define NC_PROTO_MAX_PACKET_DECOMPRESSED 65536
/** Max nesting of compound/compress wrappers in nc_proto_packet_walk. Go
 * has no limit; anything deeper than 2 is never produced. */
#define NC_PROTO_MAX_DEPTH 4
/** Dimensions of the serf coordinate payload (serf requires exactly 8). */
#define NC_PROTO_MAX_DIMS 8
/** Version byte of the serf ping-delegate payload (§7.3). */
#define NC_PROTO_SERF_PING_VERSION 1
/** First byte of serf tag-encoded Meta (§7.1). */
#define NC_PROTO_SERF_TAG_MAGIC 0xff
/**
 * A reasonable tag array size for nc_proto_decode_tags() (serf Meta is at
 * most 512 bytes; a Meta with more tags than the array yields
 * NC_PROTO_ETOOBIG). Nothing special in the value.
 */
#define NC_PROTO_MAX_TAGS 64

/** Node state in pushNodeState.State (§2.3). */
enum nc_proto_node_state {
	NC_PROTO_STATE_ALIVE = 0,
	NC_PROTO_STATE_SUSPECT = 1,
	NC_PROTO_STATE_DEAD = 2,
	NC_PROTO_STATE_LEFT = 3,
};

/** Serf message types inside user messages (§7.2). ONLY APPEND. */
enum nc_proto_serf_type {
	NC_PROTO_SERF_LEAVE = 0,
	NC_PROTO_SERF_JOIN = 1,
	NC_PROTO_SERF_PUSH_PULL = 2,
	NC_PROTO_SERF_USER_EVENT = 3,
	NC_PROTO_SERF_QUERY = 4,
	NC_PROTO_SERF_QUERY_RESPONSE = 5,
	NC_PROTO_SERF_CONFLICT_RESPONSE = 6,
	NC_PROTO_SERF_KEY_REQUEST = 7,
	NC_PROTO_SERF_KEY_RESPONSE = 8,
	NC_PROTO_SERF_RELAY = 9,
};

/* ------------------------------------------------------------------ */
/* Message structs                                                    */
/* ------------------------------------------------------------------ */

/**
 * Borrowed byte string (Go string or []byte). When decoded, `data` points
 * into the input buffer; when encoding, into caller memory. len == 0 means
 * empty/nil (encoders emit nil 0xc0 for empty optional []byte fields and
 * an empty fixstr 0xa0 for strings).
 */
struct nc_proto_str {
	const char *data;	/**< first byte, may be NULL when len == 0 */
	uint32_t len;		/**< number of bytes */
};

/**
 * ping (type 0):
 *
 *   00 | map{Node, SeqNo, [SourceAddr], [SourceNode], [SourcePort]}
 *
 * The Source* fields are omitempty: left out when empty/zero.
 */
struct nc_proto_ping {
	uint32_t seq_no;		/**< SeqNo, echoed in the ack */
	struct nc_proto_str node;	/**< Node: intended target's name */
	struct nc_proto_str source_addr; /**< SourceAddr: 4 or 16 IP bytes */
	struct nc_proto_str source_node; /**< SourceNode: sender's name */
	uint16_t source_port;		/**< SourcePort: sender's port */
};

/**
 * indirectPingReq (type 1):
 *
 *   01 | map{Nack, Node, Port, SeqNo, [SourceAddr], [SourceNode],
 *            [SourcePort], Target}
 */
struct nc_proto_indirect_ping {
	uint32_t seq_no;		/**< SeqNo: requester's sequence */
	struct nc_proto_str target;	/**< Target: target IP bytes */
	uint16_t port;			/**< Port: target port (0 = ours) */
	struct nc_proto_str node;	/**< Node: target's name */
	bool nack;			/**< Nack: requester wants a nack */
	struct nc_proto_str source_addr; /**< SourceAddr (omitempty) */
	struct nc_proto_str source_node; /**< SourceNode (omitempty) */
	uint16_t source_port;		/**< SourcePort (omitempty) */
};

/**
 * ackResp (type 2):   02 | map{Payload, SeqNo}
 * Payload is nil (0xc0) when empty; serf puts its coordinate there.
 */
struct nc_proto_ack {
	uint32_t seq_no;		/**< SeqNo of the ping */
	struct nc_proto_str payload;	/**< Payload: ping-delegate bytes */
};

/** nackResp (type 11):   0b | map{SeqNo} */
struct nc_proto_nack {
	uint32_t seq_no;		/**< SeqNo of the indirect request */
};

/**
 * suspect (type 3):   03 | map{From, Incarnation, Node}
 */
struct nc_proto_suspect {
	uint32_t incarnation;		/**< accused node's incarnation */
	struct nc_proto_str node;	/**< Node: accused node */
	struct nc_proto_str from;	/**< From: accuser */
};

/**
 * dead (type 5):   05 | map{From, Incarnation, Node}
 * From == Node means a graceful leave.
 */
struct nc_proto_dead {
	uint32_t incarnation;		/**< accused node's incarnation */
	struct nc_proto_str node;	/**< Node: dead/leaving node */
	struct nc_proto_str from;	/**< From: accuser (== node: left) */
};

/**
 * alive (type 4):
 *
 *   04 | map{Addr, Incarnation, Meta, Node, Port, Vsn}
 *
 * Vsn must be exactly NC_PROTO_VSN_LEN bytes when encoding (a 1..5-byte
 * Vsn panics the Go peer, §5.1): encoders return NC_PROTO_EINVAL
 * otherwise. Decoders accept any length (Go does) and leave the checks to
 * the state machine. Meta longer than NC_PROTO_META_MAX is EINVAL when
 * encoding and accepted when decoding.
 */
struct nc_proto_alive {
	uint32_t incarnation;		/**< Incarnation */
	struct nc_proto_str node;	/**< Node: name */
	struct nc_proto_str addr;	/**< Addr: 4 or 16 IP bytes */
	uint16_t port;			/**< Port: gossip port (UDP+TCP) */
	struct nc_proto_str meta;	/**< Meta: serf tags, nil if empty */
	struct nc_proto_str vsn;	/**< Vsn: 6 version bytes */
};

/**
 * pushPullHeader, the start of a push/pull stream message (type 6):
 *
 *   06 | map{Join, Nodes, UserStateLen} | pushNodeState x Nodes
 *      | UserStateLen raw bytes
 */
struct nc_proto_push_pull {
	bool join;			/**< Join */
	uint32_t nodes;			/**< Nodes: node states that follow */
	uint32_t user_state_len;	/**< UserStateLen: trailing raw bytes */
};

/**
 * pushNodeState (one element of a push/pull, no type byte):
 *
 *   map{Addr, Incarnation, Meta, Name, Port, State, Vsn}
 */
struct nc_proto_push_node {
	struct nc_proto_str name;	/**< Name (not Node!) */
	struct nc_proto_str addr;	/**< Addr */
	uint16_t port;			/**< Port */
	struct nc_proto_str meta;	/**< Meta, nil if empty */
	uint32_t incarnation;		/**< Incarnation */
	uint32_t state;			/**< State: enum nc_proto_node_state
					 * (other values are passed on) */
	struct nc_proto_str vsn;	/**< Vsn (6 bytes when encoding) */
};

/**
 * userMsgHeader of a stream user message (type 8 on TCP):
 *
 *   08 | map{UserMsgLen} | UserMsgLen raw bytes
 *
 * (A UDP user message is just 08 | raw bytes.)
 */
struct nc_proto_user_stream {
	uint32_t user_msg_len;		/**< UserMsgLen */
};

/** errResp (type 13, streams only):   0d | map{Error} */
struct nc_proto_err {
	struct nc_proto_str error;	/**< Error: text */
};

/**
 * compress (type 9):   09 | map{Algo, Buf}
 * Algo 0 = LZW (GIF flavour, LSB, 8-bit literals); anything else is
 * rejected by the decoder with NC_PROTO_EALGO.
 */
struct nc_proto_compress {
	uint8_t algo;			/**< Algo, always 0 */
	struct nc_proto_str buf;	/**< Buf: compressed bytes (borrowed) */
};

/** One serf tag (key/value strings, borrowed). */
struct nc_proto_tag {
	struct nc_proto_str key;	/**< tag name */
	struct nc_proto_str value;	/**< tag value */
};

/**
 * serf leave intent (serf type 0):   00 | map{LTime, Node, Prune}
 */
struct nc_proto_serf_leave {
	uint64_t ltime;			/**< LTime: Lamport time, > last seen */
	struct nc_proto_str node;	/**< Node: leaving node */
	bool prune;			/**< Prune: false for a normal leave */
};

/** serf join intent (serf type 1):   01 | map{LTime, Node} */
struct nc_proto_serf_join {
	uint64_t ltime;			/**< LTime */
	struct nc_proto_str node;	/**< Node: joining node */
};

/** serf user event (type 3):  03 | map{CC, LTime, Name, Payload} */
struct nc_proto_serf_user_event {
	bool cc;			/**< CC: may be coalesced */
	uint64_t ltime;			/**< LTime: event clock */
	struct nc_proto_str name;	/**< Name */
	struct nc_proto_str payload;	/**< Payload ([]byte) */
};

/** Query flags (serf's queryFlagAck, queryFlagNoBroadcast). */
#define NC_PROTO_SERF_QUERY_ACK 1u
#define NC_PROTO_SERF_QUERY_NO_BROADCAST 2u

/**
 * serf query (type 4): 04 | map{Addr, Filters, Flags, ID, LTime, Name,
 * Payload, Port, RelayFactor, SourceNode, Timeout}.
 */
struct nc_proto_serf_query {
	struct nc_proto_str addr;	/**< Addr: IP to answer (4/16 bytes) */
	/** Filters: the raw msgpack array of []byte (nil if none). */
	struct nc_proto_str filters;
	uint32_t flags;			/**< Flags: NC_PROTO_SERF_QUERY_* */
	uint32_t id;			/**< ID */
	uint64_t ltime;			/**< LTime: query clock */
	struct nc_proto_str name;	/**< Name */
	struct nc_proto_str payload;	/**< Payload */
	uint16_t port;			/**< Port to answer */
	uint8_t relay_factor;		/**< RelayFactor */
	struct nc_proto_str source_node; /**< SourceNode */
	uint64_t timeout_ns;		/**< Timeout (Go Duration, >= 0) */
};

/** Query filter types (first byte of each filter). */
#define NC_PROTO_SERF_FILTER_NODE 0
#define NC_PROTO_SERF_FILTER_TAG 1

/** Tag filter body: map{Expr, Tag} (after its type byte). */
struct nc_proto_serf_filter_tag {
	struct nc_proto_str expr;	/**< Expr: a regular expression */
	struct nc_proto_str tag;	/**< Tag */
};

/** serf query response (type 5): 05 | map{Flags, From, ID, LTime, Payload} */
struct nc_proto_serf_query_response {
	uint32_t flags;			/**< Flags: 1 = ack */
	struct nc_proto_str from;	/**< From: responder */
	uint32_t id;			/**< ID of the query */
	uint64_t ltime;			/**< LTime of the query */
	struct nc_proto_str payload;	/**< Payload (nil for an ack) */
};

/** serf key request (type 7, a query payload): 07 | map{Key} */
struct nc_proto_serf_key_request {
	struct nc_proto_str key;	/**< Key: raw key bytes */
};

/**
 * serf key response (type 8, a query response payload):
 * 08 | map{Keys, Message, PrimaryKey, Result} (serf's nodeKeyResponse).
 */
struct nc_proto_serf_key_response {
	const struct nc_proto_str *keys; /**< Keys: base64 strings */
	size_t keys_n;
	struct nc_proto_str message;	/**< Message: error or note */
	struct nc_proto_str primary_key; /**< PrimaryKey: base64 */
	bool result;			/**< Result */
	/**
	 * Decoding only: Keys as the raw msgpack array (read it with
	 * nc_proto_read_array / nc_proto_read_bytes); keys/keys_n are left
	 * empty by the decoder.
	 */
	struct nc_proto_str keys_raw;
};

/** A serf Member, as a conflict response (type 6) carries it. */
struct nc_proto_serf_member {
	struct nc_proto_str name;	/**< Name */
	struct nc_proto_str addr;	/**< Addr: IP bytes (4 or 16) */
	uint16_t port;			/**< Port */
	/** Tags: an encoded msgpack map (Meta minus its 0xff), or empty. */
	struct nc_proto_str tags_map;
	uint8_t status;			/**< 1 alive, 2 leaving, 3 left, 4 failed */
	/** pmin pmax pcur dmin dmax dcur. */
	uint8_t vsn[6];
};

/**
 * serf relay (type 9): 09 | relayHeader{DestAddr {IP, Port, Zone},
 * DestName} | a complete serf message to forward to DestAddr.
 */
struct nc_proto_serf_relay {
	struct nc_proto_str dest_ip;	/**< DestAddr.IP */
	uint16_t dest_port;		/**< DestAddr.Port */
	struct nc_proto_str dest_name;	/**< DestName */
	struct nc_proto_str inner;	/**< the message to forward */
};

/** One join status LTime (StatusLTimes entry) of a serf push/pull. */
struct nc_proto_serf_status {
	struct nc_proto_str name;
	uint64_t ltime;
};

/** One user event (LTime, Name, Payload) of a serf push/pull. */
struct nc_proto_serf_event {
	uint64_t ltime;
	struct nc_proto_str name;
	struct nc_proto_str payload;
};

/**
 * serf push/pull user state (type 2, messagePushPull): 02 | map{
 * EventLTime, Events [{Events [{Name, Payload}], LTime}], LTime,
 * LeftMembers [string], QueryLTime, StatusLTimes {string: LTime}}.
 * For encoding, events with the same LTime must be adjacent (they are
 * grouped into one userEvents entry).
 */
struct nc_proto_serf_push_pull {
	uint64_t ltime, event_ltime, query_ltime;
	const struct nc_proto_serf_status *status;
	size_t status_n;
	const struct nc_proto_str *left;
	size_t left_n;
	const struct nc_proto_serf_event *events;
	size_t events_n;
};

/** What nc_proto_decode_serf_push_pull reports beyond the clocks. */
struct nc_proto_serf_push_pull_visitor {
	void *ctx;
	/** Each recent event (may be NULL). */
	void (*event)(void *ctx, const struct nc_proto_serf_event *e);
	/** Each StatusLTimes entry, each LeftMembers name (may be NULL). */
	void (*status)(void *ctx, const struct nc_proto_serf_status *s);
	void (*left)(void *ctx, const struct nc_proto_str *name);
};

/**
 * Serf Vivaldi coordinate as carried in acks (§7.3):
 *
 *   01 | map{Adjustment: f64, Error: f64, Height: f64, Vec: [f64 x dims]}
 *
 * Every value is in seconds. Plain struct so that gossip/ does not depend
 * on coord/; the agent translates.
 */
struct nc_proto_coord {
	double vec[NC_PROTO_MAX_DIMS];	/**< Euclidean part, seconds */
	unsigned dims;			/**< used entries of vec */
	double error;			/**< Error estimate */
	double adjustment;		/**< Adjustment term, seconds */
	double height;			/**< Height, seconds */
};

/* ------------------------------------------------------------------ */
/* Generic                                                            */
/* ------------------------------------------------------------------ */

/**
 * Text for any NC_PROTO_E* / NC_CRYPTO_E* code (and 0). Never NULL; an
 * unknown code yields "unknown error".
 */
const char *
nc_proto_strerror(int err);

/**
 * Read the type byte of a message.
 * @param[in,out] pos  advanced by one on success
 * @param[out] type    the byte
 * @retval 0 ok, NC_PROTO_EEMPTY if pos == end
 */
int
nc_proto_decode_type(const char **pos, const char *end, uint8_t *type);

/** Build an nc_proto_str from a NUL-terminated C string (borrowed). */
struct nc_proto_str
nc_proto_cstr(const char *s);

/* ------------------------------------------------------------------ */
/* Messages: encoders write type byte + body, decoders read the body  */
/* ------------------------------------------------------------------ */

/** Encode ping (type 0). @return length, or NC_PROTO_ENOSPC. */
int
nc_proto_encode_ping(char *buf, size_t cap, const struct nc_proto_ping *m);
/** Decode a ping body. @retval 0 or NC_PROTO_E*. */
int
nc_proto_decode_ping(const char **pos, const char *end,
		     struct nc_proto_ping *out);

/** Encode indirectPingReq (type 1). */
int
nc_proto_encode_indirect_ping(char *buf, size_t cap,
			      const struct nc_proto_indirect_ping *m);
/** Decode an indirectPingReq body. */
int
nc_proto_decode_indirect_ping(const char **pos, const char *end,
			      struct nc_proto_indirect_ping *out);

/** Encode ackResp (type 2); an empty payload is emitted as nil. */
int
nc_proto_encode_ack(char *buf, size_t cap, const struct nc_proto_ack *m);
/** Decode an ackResp body. */
int
nc_proto_decode_ack(const char **pos, const char *end,
		    struct nc_proto_ack *out);

/** Encode nackResp (type 11). */
int
nc_proto_encode_nack(char *buf, size_t cap, const struct nc_proto_nack *m);
/** Decode a nackResp body. */
int
nc_proto_decode_nack(const char **pos, const char *end,
		     struct nc_proto_nack *out);

/** Encode suspect (type 3). */
int
nc_proto_encode_suspect(char *buf, size_t cap,
			const struct nc_proto_suspect *m);
/** Decode a suspect body. */
int
nc_proto_decode_suspect(const char **pos, const char *end,
			struct nc_proto_suspect *out);

/** Encode dead (type 5). */
int
nc_proto_encode_dead(char *buf, size_t cap, const struct nc_proto_dead *m);
/** Decode a dead body. */
int
nc_proto_decode_dead(const char **pos, const char *end,
		     struct nc_proto_dead *out);

/**
 * Encode alive (type 4). @retval NC_PROTO_EINVAL if vsn.len != 6 or
 * meta.len > NC_PROTO_META_MAX.
 */
int
nc_proto_encode_alive(char *buf, size_t cap, const struct nc_proto_alive *m);
/** Decode an alive body. */
int
nc_proto_decode_alive(const char **pos, const char *end,
		      struct nc_proto_alive *out);

/**
 * Encode errResp (type 13). */
int
nc_proto_encode_err(char *buf, size_t cap, const struct nc_proto_err *m);
/** Decode an errResp body. */
int
nc_proto_decode_err(const char **pos, const char *end,
		    struct nc_proto_err *out);

/**
 * Encode a UDP user message: 08 | payload. payload may lie inside buf
 * (memmove is used), e.g. encode a serf message at buf + 1 first.
 */
int
nc_proto_encode_user(char *buf, size_t cap, const char *payload, size_t len);

/* ------------------------------------------------------------------ */
/* Push/pull and stream user messages (TCP)                           */
/* ------------------------------------------------------------------ */

/** Encode 06 | pushPullHeader. Node states and user state follow. */
int
nc_proto_encode_push_pull(char *buf, size_t cap,
			  const struct nc_proto_push_pull *m);
/** Decode a pushPullHeader (the body right after the 06 byte). */
int
nc_proto_decode_push_pull(const char **pos, const char *end,
			  struct nc_proto_push_pull *out);

/**
 * Encode one pushNodeState map (no type byte).
 * @retval NC_PROTO_EINVAL if vsn.len != 6 or meta.len > 512.
 */
int
nc_proto_encode_push_node(char *buf, size_t cap,
			  const struct nc_proto_push_node *m);
/** Decode one pushNodeState map. */
int
nc_proto_decode_push_node(const char **pos, const char *end,
			  struct nc_proto_push_node *out);

/**
 * Encode a stream user message: 08 | {UserMsgLen} | payload. payload may
 * lie inside buf (memmove).
 */
int
nc_proto_encode_user_stream(char *buf, size_t cap, const char *payload,
			    size_t len);
/**
 * Decode a userMsgHeader (after the 08 byte). The payload is the next
 * user_msg_len bytes; the caller checks they are present.
 */
int
nc_proto_decode_user_stream(const char **pos, const char *end,
			    struct nc_proto_user_stream *out);

/** Where nc_proto_stream_scan() is in a message (internal). */
enum nc_proto_scan_stage {
	NC_PROTO_SCAN_START = 0,	/**< type byte and header to come */
	NC_PROTO_SCAN_NODES,		/**< push/pull node states to come */
	NC_PROTO_SCAN_TAIL,		/**< only raw bytes (tail) to come */
};

/**
 * Incremental framing of a plaintext TCP stream message (§3.1): there is
 * no length prefix, so the responder must parse as bytes arrive.
 * Resumable: keeps the offset of what is already known to be complete, so
 * each call costs O(new bytes + one item).
 */
struct nc_proto_stream_scan {
	size_t off;		/**< bytes of complete items so far */
	uint32_t nodes_left;	/**< push/pull node states still to come */
	uint32_t tail;		/**< raw bytes after the last map */
	enum nc_proto_scan_stage stage;	/**< internal */
	size_t max;		/**< size cap (0 = NC_PROTO_MAX_STREAM) */
};

/** Reset a scanner before a new message; max 0 = NC_PROTO_MAX_STREAM. */
void
nc_proto_stream_scan_init(struct nc_proto_stream_scan *s, size_t max);

/**
 * Given buf[0..len) = everything received so far (same prefix on every
 * call, growing), tell whether one complete stream message is present.
 * Types understood: 0 ping, 2 ack, 6 push/pull, 8 user, 9 compress,
 * 10 encrypted frame (5-byte header + L), 13 err.
 * @retval >0  total length of the message (bytes after it are not ours)
 * @retval NC_PROTO_NEED_MORE (0) read more and call again
 * @retval NC_PROTO_ETYPE unsupported type byte (244 label included)
 * @retval NC_PROTO_ETOOBIG message would exceed the cap
 * @retval other negative: malformed
 */
int
nc_proto_stream_scan(struct nc_proto_stream_scan *s, const char *buf,
		     size_t len);

/* ------------------------------------------------------------------ */
/* Compound (type 7)                                                  */
/* ------------------------------------------------------------------ */

/**
 * Compound message:
 *
 *   +----+---+--------+--------+-----+--------+--------+-----+
 *   | 07 | N | len1be | len2be | ... | part 1 | part 2 | ... |
 *   +----+---+--------+--------+-----+--------+--------+-----+
 *              uint16   uint16
 *
 * Encode N parts (1 <= N <= NC_PROTO_COMPOUND_MAX_PARTS, each 1..65535
 * bytes, else NC_PROTO_EINVAL). Parts must not overlap buf.
 */
int
nc_proto_encode_compound(char *buf, size_t cap,
			 const struct nc_proto_str *parts, unsigned n);

/** Iterator over the parts of a compound body. */
struct nc_proto_compound_iter {
	const char *lens;	/**< next uint16 length */
	const char *data;	/**< next part */
	const char *end;	/**< end of the compound */
	unsigned n;		/**< number of parts declared */
	unsigned i;		/**< parts yielded so far */
};

/**
 * Start iterating a compound body (after the 07 byte). Trailing bytes
 * after the last part are ignored, as in Go.
 * @retval 0, NC_PROTO_ETRUNC if fewer than 1 + 2N header bytes.
 */
int
nc_proto_compound_begin(struct nc_proto_compound_iter *it, const char *body,
			const char *end);

/**
 * Next part (borrowed).
 * @retval 1 a part was stored in *part (it may be empty: a zero-length
 *           part is not a valid message, the dispatcher rejects it)
 * @retval 0 no more parts
 * @retval NC_PROTO_ETRUNC the declared length overruns the buffer: this
 *           part and the rest (it->n - it->i of them) are truncated and the
 *           iteration is over (Go logs and drops them).
 */
int
nc_proto_compound_next(struct nc_proto_compound_iter *it,
		       struct nc_proto_str *part);

/* ------------------------------------------------------------------ */
/* CRC wrapper (type 12)                                              */
/* ------------------------------------------------------------------ */

/** CRC-32/IEEE (zlib, Go crc32.ChecksumIEEE). Chain with crc = previous. */
uint32_t
nc_proto_crc32(uint32_t crc, const void *data, size_t len);

/**
 * Wrap: 0c | crc32be(inner) | inner. inner may lie inside buf (memmove),
 * typically at buf + 5 for zero-copy.
 */
int
nc_proto_encode_crc(char *buf, size_t cap, const char *inner, size_t len);

/**
 * Verify a CRC body (after the 0c byte) and return the inner message
 * (borrowed, rest of the buffer). *pos is set to end.
 * @retval 0, NC_PROTO_ETRUNC (< 4 bytes), NC_PROTO_ECRC
 */
int
nc_proto_decode_crc(const char **pos, const char *end,
		    struct nc_proto_str *inner);

/* ------------------------------------------------------------------ */
/* Compression (type 9) and LZW                                       */
/* ------------------------------------------------------------------ */

/**
 * LZW-compress (Go compress/lzw, LSB, litWidth 8): clear code first, EOF
 * code last, last byte zero-padded. Output is byte-identical to Go.
 * No heap; uses 16 KiB (inputs < 1800 bytes) or 32 KiB of stack.
 * @return compressed length, or NC_PROTO_ENOSPC.
 */
int
nc_proto_lzw_compress(char *out, size_t cap, const char *in, size_t len);

/**
 * LZW-decompress into out[0..cap). Uses ~16 KiB of stack, no heap.
 * @return decompressed length, NC_PROTO_ETOOBIG if it exceeds cap,
 *         NC_PROTO_ELZW on a corrupt stream (invalid code, missing EOF).
 */
int
nc_proto_lzw_decompress(char *out, size_t cap, const char *in, size_t len);

/**
 * LZW-decompress into a malloc()ed buffer grown as needed up to max bytes
 * (streams: use NC_PROTO_MAX_STREAM). On success *out is owned by the
 * caller (free()). On failure *out = NULL.
 * @return decompressed length or NC_PROTO_ETOOBIG / ELZW / ENOMEM.
 */
int
nc_proto_lzw_decompress_alloc(char **out, size_t max, const char *in,
			      size_t len);

/**
 * Encode 09 | {Algo: 0, Buf: lzw(in)}. Does not decide whether
 * compression pays off (UDP senders keep it only if shorter, §1.2).
 * in must not overlap buf. The LZW output is produced behind room for the
 * largest header, so cap must exceed the result by up to 4 bytes.
 */
int
nc_proto_encode_compress(char *buf, size_t cap, const char *in, size_t len);
/** Decode a compress body; Buf stays compressed. NC_PROTO_EALGO if
 * Algo != 0. */
int
nc_proto_decode_compress(const char **pos, const char *end,
			 struct nc_proto_compress *out);

/* ------------------------------------------------------------------ */
/* UDP packet unwrapping                                              */
/* ------------------------------------------------------------------ */

/**
 * Called for every leaf message of a packet: the type byte and its body
 * (borrowed; scratch-backed for decompressed parts: valid during the call
 * only). Return value is ignored by the walker.
 */
typedef void (*nc_proto_msg_cb)(void *ctx, uint8_t type, const char *body,
				const char *end);

/**
 * Unwrap a decrypted UDP datagram the way memberlist's ingestPacket and
 * handleCommand do: strip an outermost CRC (type 12, verified), then
 * recursively open compound (7) and compress (9) wrappers (at most
 * NC_PROTO_MAX_DEPTH levels) and call cb for every other message,
 * including unsupported types (the callback counts those). Nested CRC is
 * passed to cb as type 12 (Go drops it as unsupported).
 *
 * Decompressed data is stored in scratch, used as a stack: each level
 * takes what it needs from the unused part. All compressed parts of the
 * datagram share one budget of NC_PROTO_MAX_PACKET_DECOMPRESSED bytes: a
 * decompression beyond min(remaining scratch, remaining budget) fails
 * with ETOOBIG, and once the budget is spent no further part is
 * decompressed (ETOOBIG is then returned, whatever else failed first).
 * 64 KiB of scratch is plenty for serf.
 *
 * A bad part does not stop the walk (Go processes the others); the first
 * error seen is returned.
 * @retval 0 everything was delivered
 * @retval <0 first error (EEMPTY, ECRC, ETRUNC for truncated compound
 *         parts, ELZW, ETOOBIG, EDEPTH, ...)
 */
int
nc_proto_packet_walk(const char *pkt, size_t len, char *scratch,
		     size_t scratch_cap, nc_proto_msg_cb cb, void *ctx);

/* ------------------------------------------------------------------ */
/* Serf                                                               */
/* ------------------------------------------------------------------ */

/**
 * Encode serf tags as Meta: ff | msgpack map[string]string, in the order
 * given (Go's order is random anyway).
 * @retval NC_PROTO_EINVAL if the result exceeds NC_PROTO_META_MAX.
 */
int
nc_proto_encode_tags(char *buf, size_t cap, const struct nc_proto_tag *tags,
		     unsigned n);

/**
 * Decode Meta into tags (borrowed from meta). Empty Meta, or Meta whose
 * first byte is not 0xff, is the legacy form and decodes as a single tag
 * role=<meta> (the value may be empty).
 * @param[out] tags  array of max entries
 * @param[out] n     number of tags stored
 * @retval 0, NC_PROTO_ETOOBIG if more than max tags, decode errors
 */
int
nc_proto_decode_tags(const char *meta, size_t len, struct nc_proto_tag *tags,
		     unsigned max, unsigned *n);

/**
 * Encode a serf leave intent: 00 | map{LTime, Node, Prune}. This is a
 * serf payload; a UDP user message is 08 + it (nc_proto_encode_user, or
 * buf[0] = NC_PROTO_USER and encode at buf + 1).
 */
int
nc_proto_encode_serf_leave(char *buf, size_t cap,
			   const struct nc_proto_serf_leave *m);
/** Decode a serf leave intent body (after the serf type byte 00). */
int
nc_proto_decode_serf_leave(const char **pos, const char *end,
			   struct nc_proto_serf_leave *out);

/** Encode a serf join intent: 01 | map{LTime, Node}. */
int
nc_proto_encode_serf_join(char *buf, size_t cap,
			  const struct nc_proto_serf_join *m);
/** Decode a serf join intent body (after the serf type byte 01). */
int
nc_proto_decode_serf_join(const char **pos, const char *end,
			  struct nc_proto_serf_join *out);

/*
 * serf user events, queries and their answers (§7.2; serf's messages.go).
 * Encoders write the type byte; decoders take the body after it.
 */
int
nc_proto_encode_serf_user_event(char *buf, size_t cap,
				const struct nc_proto_serf_user_event *m);
int
nc_proto_decode_serf_user_event(const char **pos, const char *end,
				struct nc_proto_serf_user_event *out);
int
nc_proto_encode_serf_query(char *buf, size_t cap,
			   const struct nc_proto_serf_query *m);
int
nc_proto_decode_serf_query(const char **pos, const char *end,
			   struct nc_proto_serf_query *out);
int
nc_proto_encode_serf_query_response(
	char *buf, size_t cap, const struct nc_proto_serf_query_response *m);
int
nc_proto_decode_serf_query_response(
	const char **pos, const char *end,
	struct nc_proto_serf_query_response *out);
int
nc_proto_encode_serf_key_request(char *buf, size_t cap,
				 const struct nc_proto_serf_key_request *m);
int
nc_proto_decode_serf_key_request(const char **pos, const char *end,
				 struct nc_proto_serf_key_request *out);
/** Tag filter body (after the filter's type byte). */
int
nc_proto_decode_serf_filter_tag(const char **pos, const char *end,
				struct nc_proto_serf_filter_tag *out);
/** Key response: 08 | map{Keys, Message, PrimaryKey, Result}. */
int
nc_proto_encode_serf_key_response(char *buf, size_t cap,
				  const struct nc_proto_serf_key_response *m);
/**
 * Key response body (after 08): Message, PrimaryKey, Result, and Keys
 * as out->keys_raw.
 */
int
nc_proto_decode_serf_key_response(const char **pos, const char *end,
				  struct nc_proto_serf_key_response *out);
/** Conflict response: 06 | Member, or 06 | nil when @a m is NULL. */
int
nc_proto_encode_serf_conflict_response(
	char *buf, size_t cap, const struct nc_proto_serf_member *m);
/**
 * Conflict response body (after 06): Name, Addr, Port, Status and the
 * versions of the Member; nil (a node that did not know the name) reads
 * as an all-zero Member, as Go decodes it (tags_map is left empty).
 */
int
nc_proto_decode_serf_conflict_response(const char **pos, const char *end,
				       struct nc_proto_serf_member *out);
/** Relay: 09 | relayHeader | m->inner. */
int
nc_proto_encode_serf_relay(char *buf, size_t cap,
			   const struct nc_proto_serf_relay *m);
/** Relay body after 09; m->inner is the rest of the buffer. */
int
nc_proto_decode_serf_relay(const char **pos, const char *end,
			   struct nc_proto_serf_relay *out);

/** Encode a serf push/pull user state: 02 | messagePushPull. */
int
nc_proto_encode_serf_push_pull(char *buf, size_t cap,
			       const struct nc_proto_serf_push_pull *m);
/**
 * Decode a serf push/pull body (after 02): the clocks into @a out (its
 * arrays are left empty), the rest reported through @a v as it is read.
 * Nil entries of Events (serf sends its whole buffer) are skipped.
 */
int
nc_proto_decode_serf_push_pull(const char **pos, const char *end,
			       struct nc_proto_serf_push_pull *out,
			       const struct nc_proto_serf_push_pull_visitor *v);

/*
 * Generic reading, for bodies whose shape is a list (serf query filters):
 * an array header (nil = 0 entries), a string or []byte (str or bin, nil
 * = empty), any one value skipped.
 */
int nc_proto_read_array(const char **pos, const char *end, uint32_t *n);
int nc_proto_read_bytes(const char **pos, const char *end,
			struct nc_proto_str *out);
int nc_proto_skip(const char **pos, const char *end);

/**
 * Extract the top-level LTime of any serf message body that is a map
 * (types 0, 1, 3, 4, 5), for Lamport clock tracking (§7.2).
 * @retval 0 with *ltime set (0 if absent), or a decode error.
 */
int
nc_proto_decode_serf_ltime(const char **pos, const char *end,
			   uint64_t *ltime);

/**
 * Encode the serf ping-delegate ack payload: 01 | map{Adjustment, Error,
 * Height, Vec}. @retval NC_PROTO_EINVAL if dims > NC_PROTO_MAX_DIMS.
 */
int
nc_proto_encode_coord(char *buf, size_t cap, const struct nc_proto_coord *c);

/**
 * Decode an ack payload (INCLUDING its version byte, i.e. the whole
 * Payload of an ackResp).
 * @retval 0
 * @retval NC_PROTO_EVERSION first byte is not 1
 * @retval NC_PROTO_ETOOBIG Vec has more than NC_PROTO_MAX_DIMS entries
 * @retval other decode errors. Values are not checked for NaN/Inf or for
 *         dims == 8: that is the coordinate client's job.
 */
int
nc_proto_decode_coord(const char **pos, const char *end,
		      struct nc_proto_coord *out);

#ifdef __cplusplus
}
#endif

#endif /* NC_GOSSIP_PROTO_H */
