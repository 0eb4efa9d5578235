/*
 * agent/serf_query.c - serf queries answered by a netcoord agent the way a
 * serf agent with no query handler answers them (serf's handleQuery,
 * query.go and internal_query.go, read in Debian's
 * golang-github-hashicorp-serf-dev 0.9.4):
 *
 *  - filters first: a node filter must name us, a tag filter's regular
 *    expression must match our tag (unanchored search, POSIX extended
 *    syntax standing in for Go's RE2); a query filtered out is only
 *    relayed (agent/serf_relay.c), not answered;
 *  - Flags & 1: an ack {LTime, ID, From: us, Flags: 1} straight to the
 *    query's Addr:Port, and a copy through RelayFactor other members
 *    wrapped in a relay message (type 9);
 *  - _serf_ping: the ack is the answer; _serf_conflict: our view of the
 *    node named in the payload (a serf Member, nil if unknown; nothing if
 *    it names us); _serf_list-keys / install-key / use-key / remove-key:
 *    serf's nodeKeyResponse {Result, Message, Keys, PrimaryKey} with
 *    memberlist's messages, acting on our keyring through the agent (so a
 *    -keyring-file is rewritten there); a key list is cut to fit serf's
 *    1024-byte response limit as keyListResponseWithCorrectSize does;
 *  - any other query: no handler, so nothing beyond the ack (a serf
 *    agent without a matching handler script answers the same way).
 *
 * Responses go out at once, so serf's response deadline is always met.
 * Relay messages (type 9) addressed through us are forwarded, as serf
 * does. Everything read from the network is bounds-checked: a query
 * whose Addr is not 4 or 16 bytes, a filter that does not decode, a key
 * request that does not decode is answered as serf would (or dropped
 * when serf would fail) and counted.
 */
#include "agent/serf_query.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gossip/crypto.h"

#define INTERNAL_PREFIX "_serf_"

static void
qlog(const struct nc_agent_serf_ops *ops, enum nc_log_level lvl,
     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
qlog(const struct nc_agent_serf_ops *ops, enum nc_log_level lvl,
     const char *fmt, ...)
{
	if (ops->log == NULL)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ops->log(ops->ctx, lvl, msg);
}

static bool
str_is(const struct nc_proto_str *s, const char *c)
{
	size_t n = strlen(c);
	return s->len == n && (n == 0 || memcmp(s->data, c, n) == 0);
}

/** The query's return address, or false if Addr is not an IP. */
static bool
query_addr(const struct nc_proto_serf_query *q, struct nc_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (q->addr.len == 4)
		out->family = 4;
	else if (q->addr.len == 16)
		out->family = 6;
	else
		return false;
	memcpy(out->ip, q->addr.data, q->addr.len);
	out->port = q->port;
	return true;
}

/* ------------------------------------------------------------------ */
/* Filters (serf's shouldProcessQuery)                                */
/* ------------------------------------------------------------------ */

static bool
node_filter_ok(const struct nc_agent_serf_ops *ops, const char *p,
	       const char *end)
{
	uint32_t n;
	if (nc_proto_read_array(&p, end, &n) != 0)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		struct nc_proto_str name;
		if (nc_proto_read_bytes(&p, end, &name) != 0)
			return false;
		if (str_is(&name, ops->self))
			return true;
	}
	return false;
}

static bool
tag_filter_ok(const struct nc_agent_serf_ops *ops, const char *p,
	      const char *end)
{
	struct nc_proto_serf_filter_tag f;
	if (nc_proto_decode_serf_filter_tag(&p, end, &f) != 0)
		return false;
	/* Our value of the tag ("" when we do not have it, as Go's map). */
	char value[NC_PROTO_META_MAX + 1] = "";
	struct nc_agent_tag tags[NC_AGENT_MAX_TAGS];
	int nt = nc_agent_tags_decode(ops->self_meta, ops->self_meta_len, tags,
				      NC_AGENT_MAX_TAGS);
	for (int i = 0; i < nt; i++) {
		if (tags[i].key_len == f.tag.len &&
		    memcmp(tags[i].key, f.tag.data, f.tag.len) == 0 &&
		    tags[i].value_len < sizeof(value)) {
			memcpy(value, tags[i].value, tags[i].value_len);
			value[tags[i].value_len] = '\0';
			break;
		}
	}
	char expr[NC_PROTO_META_MAX + 1];
	if (f.expr.len >= sizeof(expr) ||
	    memchr(f.expr.data, '\0', f.expr.len) != NULL)
		return false;
	memcpy(expr, f.expr.data, f.expr.len);
	expr[f.expr.len] = '\0';
	regex_t re;
	if (regcomp(&re, expr, REG_EXTENDED | REG_NOSUB) != 0) {
		qlog(ops, NC_LOG_WARN, "failed to compile filter regex (%s)",
		     expr);
		return false;
	}
	bool ok = regexec(&re, value, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static bool
should_process(const struct nc_agent_serf_ops *ops,
	       const struct nc_proto_serf_query *q)
{
	if (q->filters.len == 0)
		return true;
	const char *p = q->filters.data, *end = p + q->filters.len;
	uint32_t n;
	if (nc_proto_read_array(&p, end, &n) != 0)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		struct nc_proto_str f;
		if (nc_proto_read_bytes(&p, end, &f) != 0 || f.len < 1)
			return false;
		const char *fend = f.data + f.len;
		switch ((uint8_t)f.data[0]) {
		case NC_PROTO_SERF_FILTER_NODE:
			if (!node_filter_ok(ops, f.data + 1, fend))
				return false;
			break;
		case NC_PROTO_SERF_FILTER_TAG:
			if (!tag_filter_ok(ops, f.data + 1, fend))
				return false;
			break;
		default:
			qlog(ops, NC_LOG_WARN,
			     "query has unrecognized filter type: %u",
			     (unsigned)(uint8_t)f.data[0]);
			return false;
		}
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Responses                                                          */
/* ------------------------------------------------------------------ */

/** Encode our query response {Flags, From, ID, LTime, Payload}. */
static int
encode_response(const struct nc_agent_serf_ops *ops,
		const struct nc_proto_serf_query *q, uint32_t flags,
		const char *payload, size_t payload_len, char *buf, size_t cap)
{
	struct nc_proto_serf_query_response r = {
		.flags = flags,
		.from = nc_proto_cstr(ops->self),
		.id = q->id,
		.ltime = q->ltime,
		.payload = {payload, (uint32_t)payload_len},
	};
	return nc_proto_encode_serf_query_response(buf, cap, &r);
}

/**
 * Send an encoded response to the query's source, then through
 * RelayFactor others (serf's respondWithMessageAndResponse and
 * relayResponse). Returns messages sent.
 */
static int
send_response(const struct nc_agent_serf_ops *ops,
	      struct nc_agent_serf_query_stats *st,
	      const struct nc_proto_serf_query *q, const char *raw,
	      size_t len)
{
	struct nc_addr to;
	if (len > NC_AGENT_SERF_RESPONSE_MAX || !query_addr(q, &to)) {
		st->bad++;
		return 0;
	}
	int sent = 0;
	if (ops->send(ops->ctx, &to, q->source_node.data, q->source_node.len,
		      raw, len) == 0)
		sent++;
	else
		st->send_errors++;
	if (q->relay_factor == 0 || ops->relay_targets == NULL)
		return sent;
	struct nc_addr via[UINT8_MAX];
	size_t k = ops->relay_targets(ops->ctx, q->relay_factor, via);
	if (k == 0)
		return sent;
	char wrapped[NC_AGENT_SERF_RESPONSE_MAX + 256];
	struct nc_proto_serf_relay rel = {
		.dest_ip = q->addr,
		.dest_port = q->port,
		.dest_name = q->source_node,
		.inner = {raw, (uint32_t)len},
	};
	int wlen = nc_proto_encode_serf_relay(wrapped, sizeof(wrapped), &rel);
	if (wlen <= 0 || (size_t)wlen > NC_AGENT_SERF_RESPONSE_MAX) {
		qlog(ops, NC_LOG_ERR,
		     "relayed response exceeds limit of %d bytes",
		     NC_AGENT_SERF_RESPONSE_MAX);
		return sent;
	}
	for (size_t i = 0; i < k; i++) {
		if (ops->send(ops->ctx, &via[i], NULL, 0, wrapped,
			      (size_t)wlen) == 0) {
			st->relayed++;
			sent++;
		} else {
			st->send_errors++;
		}
	}
	return sent;
}

/** A response carrying @a payload (Flags 0). */
static int
respond(const struct nc_agent_serf_ops *ops,
	struct nc_agent_serf_query_stats *st,
	const struct nc_proto_serf_query *q, const char *payload,
	size_t payload_len)
{
	char raw[NC_AGENT_SERF_RESPONSE_MAX + 64];
	int len = encode_response(ops, q, 0, payload, payload_len, raw,
				  sizeof(raw));
	if (len <= 0 || len > NC_AGENT_SERF_RESPONSE_MAX) {
		qlog(ops, NC_LOG_ERR, "response exceeds limit of %d bytes",
		     NC_AGENT_SERF_RESPONSE_MAX);
		st->bad++;
		return 0;
	}
	st->responses++;
	return send_response(ops, st, q, raw, (size_t)len);
}

/* _serf_conflict: the address we know for the node named. */
static int
answer_conflict(const struct nc_agent_serf_ops *ops,
		struct nc_agent_serf_query_stats *st,
		const struct nc_proto_serf_query *q)
{
	if (str_is(&q->payload, ops->self))
		return 0;
	struct nc_proto_serf_member m;
	uint8_t ip[16];
	bool known = q->payload.len > 0 && q->payload.len <= 128 &&
		     ops->member(ops->ctx, q->payload.data, q->payload.len, &m,
				 ip);
	char buf[NC_AGENT_SERF_RESPONSE_MAX];
	int len = nc_proto_encode_serf_conflict_response(buf, sizeof(buf),
							 known ? &m : NULL);
	if (len <= 0) {
		st->bad++;
		return 0;
	}
	return respond(ops, st, q, buf, (size_t)len);
}

/* serf's nodeKeyResponse for the key queries. */
static int
send_key_response(const struct nc_agent_serf_ops *ops,
		  struct nc_agent_serf_query_stats *st,
		  const struct nc_proto_serf_query *q, bool result,
		  const char *message)
{
	struct nc_proto_serf_key_response r = {
		.message = nc_proto_cstr(message),
		.result = result,
	};
	char buf[NC_AGENT_SERF_RESPONSE_MAX];
	int len = nc_proto_encode_serf_key_response(buf, sizeof(buf), &r);
	if (len <= 0) {
		st->bad++;
		return 0;
	}
	return respond(ops, st, q, buf, (size_t)len);
}

static int
answer_list_keys(const struct nc_agent_serf_ops *ops,
		 struct nc_agent_serf_query_stats *st,
		 const struct nc_proto_serf_query *q)
{
	char keys[NC_AGENT_KEYS_MAX][NC_AGENT_KEY_B64_CAP];
	int n = ops->key_list(ops->ctx, keys, NC_AGENT_KEYS_MAX);
	if (n < 0)
		return send_key_response(ops, st, q, false,
					 "Keyring is empty (encryption not "
					 "enabled)");
	struct nc_proto_str strs[NC_AGENT_KEYS_MAX];
	for (int i = 0; i < n; i++)
		strs[i] = nc_proto_cstr(keys[i]);
	struct nc_proto_serf_key_response r = {
		.keys = strs,
		.keys_n = (size_t)n,
		.primary_key = n > 0 ? strs[0] : nc_proto_cstr(""),
		.result = true,
		.message = nc_proto_cstr(""),
	};
	/* serf's keyListResponseWithCorrectSize: drop keys from the end
	 * until the whole response fits, and say so. */
	char msg[96];
	char payload[NC_AGENT_SERF_RESPONSE_MAX * 2];
	char raw[NC_AGENT_SERF_RESPONSE_MAX * 2 + 64];
	int plen = -1, len = -1;
	for (int i = NC_AGENT_SERF_RESPONSE_MAX / NC_AGENT_SERF_MIN_ENCODED_KEY;
	     i >= 0; i--) {
		plen = nc_proto_encode_serf_key_response(payload,
							 sizeof(payload), &r);
		len = plen > 0 ? encode_response(ops, q, 0, payload,
						 (size_t)plen, raw,
						 sizeof(raw)) : -1;
		if (len > 0 && len <= NC_AGENT_SERF_RESPONSE_MAX)
			break;
		if ((size_t)i < r.keys_n)
			r.keys_n = (size_t)i;
		snprintf(msg, sizeof(msg),
			 "truncated key list response, showing first %d of "
			 "%d keys", i, n);
		r.message = nc_proto_cstr(msg);
		len = -1;
	}
	memset(keys, 0, sizeof(keys));
	if (len <= 0) {
		qlog(ops, NC_LOG_ERR, "Failed to truncate response so that it "
				      "fits into message");
		st->bad++;
		return 0;
	}
	if (r.message.len > 0)
		qlog(ops, NC_LOG_WARN, "%s", msg);
	st->responses++;
	int sent = send_response(ops, st, q, raw, (size_t)len);
	memset(payload, 0, sizeof(payload));
	memset(raw, 0, sizeof(raw));
	return sent;
}

/* _serf_install-key, _serf_use-key, _serf_remove-key. */
static int
answer_key_change(const struct nc_agent_serf_ops *ops,
		  struct nc_agent_serf_query_stats *st,
		  const struct nc_proto_serf_query *q, enum nc_agent_key_op op)
{
	static const char *const verb[] = {"install", "use", "remove"};
	struct nc_proto_serf_key_request req;
	const char *p = q->payload.data, *end = p + q->payload.len;
	if (q->payload.len < 1 ||
	    (p++, nc_proto_decode_serf_key_request(&p, end, &req)) != 0) {
		qlog(ops, NC_LOG_ERR, "Failed to decode key request");
		return send_key_response(ops, st, q, false, "");
	}
	/* Encryption off: key_list says so. */
	char probe[1][NC_AGENT_KEY_B64_CAP];
	if (ops->key_list(ops->ctx, probe, 0) < 0)
		return send_key_response(ops, st, q, false,
					 "No keyring to modify (encryption "
					 "not enabled)");
	qlog(ops, NC_LOG_INFO, "Received %s-key query", verb[op]);
	size_t klen = req.key.len;
	bool size_ok = klen == 16 || klen == 24 || klen == 32;
	if (!size_ok) {
		/* memberlist: AddKey validates the size; UseKey finds no such
		 * key; RemoveKey of an absent key is a no-op. */
		if (op == NC_AGENT_KEY_INSTALL)
			return send_key_response(
				ops, st, q, false,
				"key size must be 16, 24 or 32 bytes");
		if (op == NC_AGENT_KEY_USE)
			return send_key_response(
				ops, st, q, false,
				"Requested key is not in the keyring");
		return send_key_response(ops, st, q, true, "");
	}
	char b64[NC_AGENT_KEY_B64_CAP];
	if (nc_crypto_key_to_base64((const uint8_t *)req.key.data, klen, b64,
				    sizeof(b64)) < 0) {
		st->bad++;
		return 0;
	}
	char err[256] = "";
	int rc = ops->key_change(ops->ctx, op, b64, err, sizeof(err));
	memset(b64, 0, sizeof(b64));
	const char *msg = "";
	bool ok = false;
	switch (rc) {
	case 0:
		ok = true;
		break;
	case -ENOENT:
		if (op == NC_AGENT_KEY_REMOVE)
			ok = true; /* memberlist: removing an absent key */
		else
			msg = "Requested key is not in the keyring";
		break;
	case -EBUSY:
		msg = "Removing the primary key is not allowed";
		break;
	case -ENOSPC:
		msg = "keyring is full";
		break;
	case -EINVAL:
		msg = "key size must be 16, 24 or 32 bytes";
		break;
	default:
		/* -EIO: done in memory, the keyring file not written. */
		msg = err[0] ? err : "keyring change failed";
		break;
	}
	if (!ok)
		qlog(ops, NC_LOG_ERR, "Failed to %s key: %s", verb[op], msg);
	return send_key_response(ops, st, q, ok, msg);
}

int
nc_agent_serf_query_answer(const struct nc_agent_serf_ops *ops,
			   struct nc_agent_serf_query_stats *st,
			   const char *buf, size_t len)
{
	if (len < 2 || (uint8_t)buf[0] != NC_PROTO_SERF_QUERY) {
		st->bad++;
		return 0;
	}
	const char *pos = buf + 1, *end = buf + len;
	struct nc_proto_serf_query q;
	if (nc_proto_decode_serf_query(&pos, end, &q) != 0) {
		st->bad++;
		return 0;
	}
	if (!should_process(ops, &q)) {
		st->filtered++;
		return 0;
	}
	int sent = 0;
	if (q.flags & NC_PROTO_SERF_QUERY_ACK) {
		char raw[NC_AGENT_SERF_RESPONSE_MAX];
		int alen = encode_response(ops, &q, NC_PROTO_SERF_QUERY_ACK, NULL,
					   0, raw, sizeof(raw));
		if (alen > 0) {
			st->acks++;
			sent += send_response(ops, st, &q, raw, (size_t)alen);
		}
	}
	size_t pl = sizeof(INTERNAL_PREFIX) - 1;
	if (q.name.len < pl || memcmp(q.name.data, INTERNAL_PREFIX, pl) != 0) {
		st->unhandled++;
		return sent;
	}
	struct nc_proto_str sub = {q.name.data + pl, q.name.len - (uint32_t)pl};
	if (str_is(&sub, "ping"))
		return sent; /* the ack was the answer */
	if (str_is(&sub, "conflict"))
		return sent + answer_conflict(ops, st, &q);
	if (str_is(&sub, "list-keys"))
		return sent + answer_list_keys(ops, st, &q);
	if (str_is(&sub, "install-key"))
		return sent + answer_key_change(ops, st, &q,
						NC_AGENT_KEY_INSTALL);
	if (str_is(&sub, "use-key"))
		return sent + answer_key_change(ops, st, &q, NC_AGENT_KEY_USE);
	if (str_is(&sub, "remove-key"))
		return sent + answer_key_change(ops, st, &q,
						NC_AGENT_KEY_REMOVE);
	qlog(ops, NC_LOG_WARN, "Unhandled internal query '%.*s'",
	     (int)(sub.len > 64 ? 64 : sub.len), sub.data);
	return sent;
}

int
nc_agent_serf_relay_forward(const struct nc_agent_serf_ops *ops,
			    struct nc_agent_serf_query_stats *st,
			    const char *buf, size_t len)
{
	if (len < 2 || (uint8_t)buf[0] != NC_PROTO_SERF_RELAY) {
		st->bad++;
		return -EINVAL;
	}
	const char *pos = buf + 1, *end = buf + len;
	struct nc_proto_serf_relay rel;
	if (nc_proto_decode_serf_relay(&pos, end, &rel) != 0 ||
	    rel.inner.len == 0 ||
	    (rel.dest_ip.len != 4 && rel.dest_ip.len != 16) ||
	    rel.dest_port == 0) {
		st->bad++;
		return -EINVAL;
	}
	struct nc_addr to = {.family = rel.dest_ip.len == 4 ? 4 : 6,
			     .port = rel.dest_port};
	memcpy(to.ip, rel.dest_ip.data, rel.dest_ip.len);
	int rc = ops->send(ops->ctx, &to, rel.dest_name.data,
			   rel.dest_name.len, rel.inner.data, rel.inner.len);
	if (rc == 0)
		st->forwarded++;
	else
		st->send_errors++;
	return rc;
}
