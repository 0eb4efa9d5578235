/*
 * The TCP side of the state machine (PROTOCOL.md §3): push/pull state
 * exchange (join, periodic anti-entropy, serf's reconnect to failed
 * members), the TCP ping fallback of a failing probe, and the responder for
 * inbound streams.
 *
 * The env hides connections: we hand it one complete request and get one
 * complete reply back (env.h). A stream message is framed as memberlist's
 * rawSendMsgStream does: plaintext -> compress wrapper (always, when
 * compression is on, even if larger) -> encrypted stream frame (when a
 * keyring is set and verify_outgoing). Reading undoes it in reverse, with
 * the §4.6 rules for plaintext-vs-encrypted mismatches.
 *
 * Merging (§3.3): the version check §5.2 runs over the whole remote state
 * first and rejects all of it on failure; then alive states are applied as
 * alive messages, left as dead{From = Node}, and suspect or dead as a local
 * suspicion (a remote "dead" never kills directly). A large state is
 * applied NC__MERGE_SLICE entries per loop iteration from a copy, so that
 * probes are answered meanwhile (issue 9 row 2); states that arrive while
 * one is pending queue behind it, so they apply in order.
 *
 * User state (serf's, issue 11): our push/pull carries what the
 * local_state hook writes (at most NC__USER_STATE_MAX bytes) after the node
 * states; the remote one is handed to the merge_state hook once its node
 * states passed the version check. Streams allocate (node lists can be
 * large); they are not on the probe path.
 */
#include "gossip/swim_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/crypto.h"

/** Room offered to the local_state hook (serf's state is far smaller). */
#define NC__USER_STATE_MAX (256 * 1024)
#define NC__USER_STATE_SMALL (8 * 1024)

/** Push/pull node lists longer than this are refused (2^20 nodes). */
#define NC__PUSHPULL_MAX_NODES (1u << 20)

static struct nc_proto_str
proto_str(const void *p, size_t len)
{
	struct nc_proto_str s = {.data = p, .len = (uint32_t)len};
	return s;
}

static bool
keyring_on(const struct nc_gossip *g)
{
	return g->cfg.keyring != NULL &&
	       nc_crypto_keyring_count(g->cfg.keyring) > 0;
}

double
nc__pushpull_scaled(const struct nc_gossip *g)
{
	double n = (double)g->n_nodes;

	if (n <= 32)
		return g->cfg.pushpull_interval;
	return g->cfg.pushpull_interval *
	       (ceil(log2(n) - log2(32.0)) + 1.0);
}

/* ------------------------------------------------------------------ */
/* Stream framing                                                      */
/* ------------------------------------------------------------------ */

/**
 * Frame plaintext message @a in as a stream message into a new malloc()ed
 * buffer (*out, caller frees). Returns its length or a negative error.
 */
static int
stream_encode(struct nc_gossip *g, const char *in, size_t len, char **out)
{
	size_t cap = len + len / 2 + 256;
	char *a = NULL, *b = NULL;
	const char *p = in;
	int rc;

	*out = NULL;
	if (len > NC_PROTO_MAX_STREAM / 2)
		return -E2BIG;
	if (g->cfg.compression) {
		a = malloc(cap);
		if (a == NULL)
			return -ENOMEM;
		rc = nc_proto_encode_compress(a, cap, in, len);
		if (rc < 0) {
			free(a);
			return rc;
		}
		p = a;
		len = (size_t)rc;
	}
	if (keyring_on(g) && g->cfg.verify_outgoing) {
		size_t ecap = len + NC_CRYPTO_STREAM_HEADER +
			      NC_CRYPTO_OVERHEAD_V0 + 16;
		b = malloc(ecap);
		if (b == NULL) {
			free(a);
			return -ENOMEM;
		}
		rc = nc_crypto_stream_encrypt(g->cfg.keyring,
					      NC_CRYPTO_VERSION_DEFAULT, p, len,
					      b, ecap);
		free(a);
		if (rc < 0) {
			free(b);
			return rc;
		}
		*out = b;
		return rc;
	}
	if (a == NULL) {
		a = malloc(len ? len : 1);
		if (a == NULL)
			return -ENOMEM;
		memcpy(a, in, len);
	}
	*out = a;
	return (int)len;
}

/** A decoded stream message: type and body, plus what to free. */
struct stream_msg {
	uint8_t type;
	const char *body, *end;
	char *own_dec, *own_unz;
	/** Static description of a framing error (for errResp). */
	const char *err;
};

static void
stream_msg_free(struct stream_msg *m)
{
	free(m->own_dec);
	free(m->own_unz);
	m->own_dec = m->own_unz = NULL;
}

/** Undo encryption and compression of a stream message. */
static int
stream_decode(struct nc_gossip *g, const char *in, size_t len,
	      struct stream_msg *m)
{
	const char *p = in, *end = in + len;
	int rc;

	memset(m, 0, sizeof(*m));
	if (len == 0) {
		m->err = "empty stream";
		return NC_PROTO_EEMPTY;
	}
	if ((uint8_t)p[0] == NC_PROTO_ENCRYPT) {
		if (!keyring_on(g)) {
			m->err = "Remote state is encrypted and encryption "
				 "is not configured";
			return NC_CRYPTO_ENOKEY;
		}
		m->own_dec = malloc(len);
		if (m->own_dec == NULL)
			return -ENOMEM;
		rc = nc_crypto_stream_decrypt(g->cfg.keyring, in, len,
					      m->own_dec, len, NULL);
		if (rc <= 0) {
			m->err = "Failed to decrypt remote state";
			stream_msg_free(m);
			return rc < 0 ? rc : NC_PROTO_EEMPTY;
		}
		p = m->own_dec;
		end = p + rc;
	} else if (keyring_on(g) && g->cfg.verify_incoming) {
		m->err = "Encryption is configured but remote state is not "
			 "encrypted";
		return NC_CRYPTO_EDECRYPT;
	}
	if ((uint8_t)p[0] == NC_PROTO_COMPRESS) {
		struct nc_proto_compress c;
		const char *pos = p + 1;
		rc = nc_proto_decode_compress(&pos, end, &c);
		if (rc == 0)
			rc = nc_proto_lzw_decompress_alloc(
				&m->own_unz, NC_PROTO_MAX_STREAM, c.buf.data,
				c.buf.len);
		if (rc <= 0) {
			m->err = "Failed to decompress remote state";
			stream_msg_free(m);
			return rc < 0 ? rc : NC_PROTO_EEMPTY;
		}
		p = m->own_unz;
		end = p + rc;
	}
	m->type = (uint8_t)p[0];
	m->body = p + 1;
	m->end = end;
	return 0;
}

/**
 * Append a framed stream message made from plaintext @a in to @a reply.
 * @a reply is the env seam's struct nc_buf (sink.on_stream, gossip/env.h),
 * not an nc_dbuf: every env and every test sink fills or reads that type,
 * so switching it is a change of the seam, not of this function.
 */
static int
reply_append(struct nc_gossip *g, struct nc_buf *reply, const char *in,
	     size_t len)
{
	char *framed;
	int flen = stream_encode(g, in, len, &framed);

	if (flen < 0)
		return flen;
	if (reply->len + (size_t)flen > reply->cap) {
		size_t cap = reply->len + (size_t)flen;
		char *d = realloc(reply->data, cap);
		if (d == NULL) {
			free(framed);
			return -ENOMEM;
		}
		reply->data = d;
		reply->cap = cap;
	}
	memcpy(reply->data + reply->len, framed, (size_t)flen);
	reply->len += (size_t)flen;
	free(framed);
	return 0;
}

static void
reply_err(struct nc_gossip *g, struct nc_buf *reply, const char *text)
{
	char buf[512];
	struct nc_proto_err e = {.error = nc_proto_cstr(text)};
	int len = nc_proto_encode_err(buf, sizeof(buf), &e);

	if (len > 0)
		reply_append(g, reply, buf, (size_t)len);
}

/* ------------------------------------------------------------------ */
/* Push/pull                                                            */
/* ------------------------------------------------------------------ */

/** Encode our push/pull (plaintext) into a new buffer. */
static int
pushpull_encode(struct nc_gossip *g, bool join, char **out)
{
	size_t nodes_cap = 64 + g->n_nodes * (NC_GOSSIP_NAME_MAX +
					      NC_GOSSIP_META_MAX + 96);
	/*
	 * The user state is asked for in a small buffer first and again in
	 * NC__USER_STATE_MAX only when that came back empty: serf's state
	 * is a few hundred bytes, and a 256 KiB allocation per push/pull is
	 * an mmap()/munmap() pair with glibc's default threshold.
	 */
	size_t user_cap = g->hooks.local_state != NULL ? NC__USER_STATE_SMALL
						       : 0;
	char *user = user_cap > 0 ? malloc(user_cap) : NULL;
	size_t user_len = 0;
	char *buf = NULL;
	size_t off, cap;
	int rc;

	*out = NULL;
	if (user_cap > 0 && user == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if (user != NULL) {
		user_len = g->hooks.local_state(g->hooks.ctx, join, user,
						user_cap);
		if (user_len == 0 || user_len > user_cap) {
			char *big = realloc(user, NC__USER_STATE_MAX);
			if (big == NULL) {
				rc = -ENOMEM;
				goto fail;
			}
			user = big;
			user_cap = NC__USER_STATE_MAX;
			user_len = g->hooks.local_state(g->hooks.ctx, join,
							user, user_cap);
		}
		if (user_len > user_cap)
			user_len = 0;
	}
	cap = nodes_cap + user_len;
	buf = malloc(cap);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	struct nc_proto_push_pull h = {
		.join = join,
		.nodes = (uint32_t)g->n_nodes,
		.user_state_len = (uint32_t)user_len,
	};
	rc = nc_proto_encode_push_pull(buf, cap, &h);
	if (rc < 0)
		goto fail;
	off = (size_t)rc;
	for (size_t i = 0; i < g->n_nodes; i++) {
		const struct nc_gossip_member *m = &g->nodes[i]->pub;
		struct nc_proto_push_node s = {
			.name = nc_proto_cstr(m->name),
			.addr = proto_str(m->addr.ip, nc_addr_ip_len(&m->addr)),
			.port = m->addr.port,
			.meta = proto_str(m->meta, m->meta_len),
			.incarnation = m->incarnation,
			.state = (uint32_t)m->state,
			.vsn = proto_str(m->vsn, 6),
		};
		rc = nc_proto_encode_push_node(buf + off, cap - off, &s);
		if (rc < 0)
			goto fail;
		off += (size_t)rc;
	}
	if (user_len > 0) {
		memcpy(buf + off, user, user_len);
		off += user_len;
	}
	free(user);
	*out = buf;
	return (int)off;
fail:
	free(user);
	free(buf);
	return rc;
}

bool
nc__vsn_check(const struct nc_gossip *g,
	      const struct nc_proto_push_node *remote, size_t n)
{
	int maxpmin = 0, minpmax = 255, maxdmin = 0, mindmax = 255;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *v = (const uint8_t *)remote[i].vsn.data;
		if (remote[i].state != NC_PROTO_STATE_ALIVE ||
		    remote[i].vsn.len == 0)
			continue;
		if (remote[i].vsn.len < 6)
			return false;
		maxpmin = v[0] > maxpmin ? v[0] : maxpmin;
		minpmax = v[1] < minpmax ? v[1] : minpmax;
		maxdmin = v[3] > maxdmin ? v[3] : maxdmin;
		mindmax = v[4] < mindmax ? v[4] : mindmax;
	}
	for (size_t i = 0; i < g->n_nodes; i++) {
		const uint8_t *v = g->nodes[i]->pub.vsn;
		if (g->nodes[i]->pub.state != NC_MEMBER_ALIVE)
			continue;
		maxpmin = v[0] > maxpmin ? v[0] : maxpmin;
		minpmax = v[1] < minpmax ? v[1] : minpmax;
		maxdmin = v[3] > maxdmin ? v[3] : maxdmin;
		mindmax = v[4] < mindmax ? v[4] : mindmax;
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *v = (const uint8_t *)remote[i].vsn.data;
		int pcur = remote[i].vsn.len >= 6 ? v[2] : 0;
		int dcur = remote[i].vsn.len >= 6 ? v[5] : 0;
		if (pcur < maxpmin || pcur > minpmax || dcur < maxdmin ||
		    dcur > mindmax)
			return false;
	}
	for (size_t i = 0; i < g->n_nodes; i++) {
		const uint8_t *v = g->nodes[i]->pub.vsn;
		if (v[2] < maxpmin || v[2] > minpmax || v[5] < maxdmin ||
		    v[5] > mindmax)
			return false;
	}
	return true;
}

/** A decoded remote push/pull. */
struct remote_state {
	bool join;
	size_t n;
	struct nc_proto_push_node *nodes;
	/** The user state after the nodes (borrowed from the body). */
	const char *user;
	size_t user_len;
};

/**
 * Decode a push/pull body (after the 06 byte). A state listing more
 * members than our table may hold (cfg.max_members) is refused before
 * its entries are decoded (NC_PROTO_ETOOBIG, logged): an honest peer of
 * a cluster within the cap never sends one, and decoding 100,000 entries
 * alone holds the loop ~0.2 s (issue 9 row 2).
 */
static int
pushpull_decode(struct nc_gossip *g, const char *body, const char *end,
		struct remote_state *rs)
{
	struct nc_proto_push_pull h;
	const char *pos = body;
	int rc;

	memset(rs, 0, sizeof(*rs));
	rc = nc_proto_decode_push_pull(&pos, end, &h);
	if (rc < 0)
		return rc;
	if (h.nodes > NC__PUSHPULL_MAX_NODES ||
	    h.nodes > (size_t)(end - pos))
		return NC_PROTO_ETOOBIG;
	if (g->cfg.max_members > 0 && h.nodes > g->cfg.max_members) {
		nc_env_logf(g->env, NC_LOG_WARN, "memberlist",
			    "Refusing a push/pull of %lu states: more than "
			    "max_members (%zu)", (unsigned long)h.nodes,
			    g->cfg.max_members);
		return NC_PROTO_ETOOBIG;
	}
	rs->join = h.join;
	rs->n = h.nodes;
	rs->nodes = calloc(h.nodes ? h.nodes : 1, sizeof(*rs->nodes));
	if (rs->nodes == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n; i++) {
		rc = nc_proto_decode_push_node(&pos, end, &rs->nodes[i]);
		if (rc < 0) {
			free(rs->nodes);
			rs->nodes = NULL;
			return rc;
		}
	}
	/* User state (serf's) follows: handed to merge_state on merge. A
	 * length beyond the message is refused as memberlist does. */
	if (h.user_state_len > (size_t)(end - pos)) {
		free(rs->nodes);
		rs->nodes = NULL;
		return NC_PROTO_ETRUNC;
	}
	rs->user = pos;
	rs->user_len = h.user_state_len;
	return 0;
}

/** Apply remote states nodes[from..to) (§3.3). */
static void
merge_apply(struct nc_gossip *g, const struct nc_proto_push_node *nodes,
	    size_t from, size_t to)
{
	const char *self = g->self->pub.name;

	for (size_t i = from; i < to; i++) {
		const struct nc_proto_push_node *r = &nodes[i];
		switch (r->state) {
		case NC_PROTO_STATE_ALIVE: {
			struct nc_proto_alive a = {
				.incarnation = r->incarnation,
				.node = r->name,
				.addr = r->addr,
				.port = r->port,
				.meta = r->meta,
				.vsn = r->vsn,
			};
			nc__handle_alive(g, &a, false);
			break;
		}
		case NC_PROTO_STATE_LEFT:
			nc__handle_dead(g, r->incarnation, r->name.data,
					r->name.len, r->name.data, r->name.len);
			break;
		case NC_PROTO_STATE_DEAD:
		case NC_PROTO_STATE_SUSPECT:
			nc__handle_suspect(g, r->incarnation, r->name.data,
					   r->name.len, self, strlen(self));
			break;
		default:
			break;
		}
	}
}

/**
 * A remote state merged a slice at a time (NC__MERGE_SLICE): a copy of
 * the push/pull body, which the decoded nodes point into.
 */
struct nc__merge {
	struct nc__merge *next;
	char *buf;
	struct nc_proto_push_node *nodes;
	/** Entries, and how many are applied. */
	size_t n, done;
};

/** @a s pointed into [@a old, @a old_end): point it into @a copy. */
static void
rebase(struct nc_proto_str *s, const char *old, const char *old_end,
       const char *copy)
{
	if (s->data != NULL && s->data >= old && s->data <= old_end)
		s->data = copy + (s->data - old);
}

static void
merge_free(struct nc__merge *mg)
{
	free(mg->buf);
	free(mg->nodes);
	free(mg);
}

void
nc__merge_timer_cb(struct nc_timer *t)
{
	struct nc_gossip *g = t->arg;
	struct nc__merge *mg = g->merges;
	size_t from, to;

	if (mg == NULL)
		return;
	from = mg->done;
	to = mg->n - from > NC__MERGE_SLICE ? from + NC__MERGE_SLICE : mg->n;
	mg->done = to;
	merge_apply(g, mg->nodes, from, to);
	if (mg->done == mg->n) {
		g->merges = mg->next;
		if (g->merges == NULL)
			g->merges_tail = NULL;
		g->n_merges--;
		merge_free(mg);
	}
	if (g->merges != NULL)
		g->env->ops->timer_start(g->env, &g->merge_timer, 0);
}

void
nc__merges_clear(struct nc_gossip *g)
{
	g->env->ops->timer_stop(g->env, &g->merge_timer);
	while (g->merges != NULL) {
		struct nc__merge *mg = g->merges;
		g->merges = mg->next;
		merge_free(mg);
	}
	g->merges_tail = NULL;
	g->n_merges = 0;
}

/**
 * Queue @a rs (decoded from [@a body, @a end)) to be merged a slice per
 * loop iteration; takes rs->nodes. Returns 0, -EBUSY (NC__MERGES_MAX
 * waiting) or -ENOMEM.
 */
static int
merge_defer(struct nc_gossip *g, struct remote_state *rs, const char *body,
	    const char *end)
{
	size_t len = (size_t)(end - body);
	struct nc__merge *mg;

	if (g->n_merges >= NC__MERGES_MAX) {
		nc_env_logf(g->env, NC_LOG_WARN, "memberlist",
			    "Refusing a push/pull of %zu states: %zu large "
			    "merges already pending", rs->n, g->n_merges);
		return -EBUSY;
	}
	mg = calloc(1, sizeof(*mg));
	if (mg == NULL)
		return -ENOMEM;
	mg->buf = malloc(len > 0 ? len : 1);
	if (mg->buf == NULL) {
		free(mg);
		return -ENOMEM;
	}
	memcpy(mg->buf, body, len);
	for (size_t i = 0; i < rs->n; i++) {
		struct nc_proto_push_node *r = &rs->nodes[i];
		rebase(&r->name, body, end, mg->buf);
		rebase(&r->addr, body, end, mg->buf);
		rebase(&r->meta, body, end, mg->buf);
		rebase(&r->vsn, body, end, mg->buf);
	}
	mg->nodes = rs->nodes;
	mg->n = rs->n;
	rs->nodes = NULL;
	if (g->merges_tail != NULL)
		g->merges_tail->next = mg;
	else
		g->merges = mg;
	g->merges_tail = mg;
	g->n_merges++;
	if (!nc_timer_active(&g->merge_timer))
		g->env->ops->timer_start(g->env, &g->merge_timer, 0);
	return 0;
}

/**
 * Apply a decoded remote state (§3.3), read from [@a body, @a end): at
 * once if it is small, else a slice per loop iteration (NC__MERGE_SLICE;
 * rs->nodes is then taken). Returns 0, -EPROTO (versions), -EBUSY or
 * -ENOMEM.
 */
static int
pushpull_merge(struct nc_gossip *g, struct remote_state *rs,
	       const char *body, const char *end)
{
	if (!nc__vsn_check(g, rs->nodes, rs->n)) {
		nc_env_logf(g->env, NC_LOG_ERR, "memberlist",
			    "Failed to merge remote state: protocol version "
			    "is incompatible");
		return -EPROTO;
	}
	if (rs->user_len > 0 && g->hooks.merge_state != NULL)
		g->hooks.merge_state(g->hooks.ctx, rs->user, rs->user_len,
				     rs->join);
	if (rs->n > NC__MERGE_SLICE || g->merges != NULL)
		return merge_defer(g, rs, body, end);
	merge_apply(g, rs->nodes, 0, rs->n);
	return 0;
}

static struct nc__outstream *
out_alloc(struct nc_gossip *g, enum nc__out_kind kind)
{
	for (int i = 0; i < NC__OUT_STREAMS_MAX; i++) {
		if (g->out[i].kind == NC__OUT_FREE) {
			memset(&g->out[i], 0, sizeof(g->out[i]));
			g->out[i].kind = kind;
			g->out[i].g = g;
			return &g->out[i];
		}
	}
	return NULL;
}

/** One join attempt finished; report when all are done. */
static void
join_step(struct nc_gossip *g, struct nc__join *j, bool ok)
{
	if (j == NULL)
		return;
	j->joined += ok;
	if (--j->pending > 0)
		return;
	if (j->joined > 0 && g->cfg.serf_compat) {
		/* Serf broadcasts a join intent once memberlist joined. */
		char buf[NC_GOSSIP_NAME_MAX + 64];
		struct nc_proto_serf_join ji = {
			.ltime = ++g->serf_ltime,
			.node = nc_proto_cstr(g->self->pub.name),
		};
		int len = nc_proto_encode_serf_join(buf + 1, sizeof(buf) - 1,
						    &ji);
		if (len > 0) {
			buf[0] = NC_PROTO_USER;
			nc__broadcast(g, "", buf, (size_t)len + 1, NULL, NULL);
		}
	}
	if (j->cb != NULL)
		j->cb(j->arg, j->joined);
	free(j);
}

static void
pushpull_done(void *arg, int status, const char *reply, size_t len)
{
	struct nc__outstream *o = arg;
	struct nc_gossip *g = o->g;
	struct nc__join *j = o->join_ctx;
	struct stream_msg m;
	struct remote_state rs;
	bool ok = false;
	int rc;

	o->kind = NC__OUT_FREE;
	if (status < 0) {
		g->stats.pushpull_fail++;
		nc_env_logf(g->env, NC_LOG_WARN, "memberlist",
			    "Push/Pull failed: %d", status);
		join_step(g, j, false);
		return;
	}
	rc = stream_decode(g, reply, len, &m);
	if (rc == 0 && m.type == NC_PROTO_ERR) {
		struct nc_proto_err e;
		const char *pos = m.body;
		if (nc_proto_decode_err(&pos, m.end, &e) == 0)
			nc_env_logf(g->env, NC_LOG_ERR, "memberlist",
				    "remote error: %.*s", (int)e.error.len,
				    e.error.data);
		rc = -EPROTO;
	} else if (rc == 0 && m.type != NC_PROTO_PUSH_PULL) {
		rc = NC_PROTO_ETYPE;
	}
	if (rc == 0)
		rc = pushpull_decode(g, m.body, m.end, &rs);
	if (rc == 0) {
		rc = pushpull_merge(g, &rs, m.body, m.end);
		free(rs.nodes);
	}
	stream_msg_free(&m);
	if (rc == 0) {
		ok = true;
	} else {
		g->stats.pushpull_fail++;
		g->stats.stream_errors++;
	}
	join_step(g, j, ok);
}

int
nc__pushpull_start(struct nc_gossip *g, const struct nc_addr *to, bool join,
		   struct nc__join *jctx)
{
	struct nc__outstream *o = out_alloc(g, NC__OUT_PUSHPULL);
	char *plain, *framed;
	int plen, flen;
	long id;

	if (o == NULL)
		return -EBUSY;
	plen = pushpull_encode(g, join, &plain);
	if (plen < 0) {
		o->kind = NC__OUT_FREE;
		return plen;
	}
	flen = stream_encode(g, plain, (size_t)plen, &framed);
	free(plain);
	if (flen < 0) {
		o->kind = NC__OUT_FREE;
		return flen;
	}
	o->join = join;
	o->join_ctx = jctx;
	g->stats.pushpull_out++;
	id = g->env->ops->stream_request(g->env, to, framed, (size_t)flen, 1,
					 g->cfg.tcp_timeout, pushpull_done, o);
	free(framed);
	if (id < 0) {
		o->kind = NC__OUT_FREE;
		g->stats.pushpull_fail++;
		return (int)id;
	}
	o->id = id;
	return 0;
}

int
nc_gossip_join(struct nc_gossip *g, const struct nc_addr *addrs, size_t n,
	       void (*cb)(void *arg, int joined), void *arg)
{
	struct nc__join *j;
	int started = 0, last = -EINVAL;

	if (g == NULL || (n > 0 && addrs == NULL) || n == 0)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	j->cb = cb;
	j->arg = arg;
	j->pending = (int)n + 1; /* +1 guards against early completion */
	for (size_t i = 0; i < n; i++) {
		int rc = nc__pushpull_start(g, &addrs[i], true, j);
		if (rc < 0) {
			last = rc;
			j->pending--;
		} else {
			started++;
		}
	}
	if (started == 0) {
		free(j);
		return last;
	}
	join_step(g, j, false); /* drop the guard */
	return 0;
}

/* ------------------------------------------------------------------ */
/* TCP ping fallback (§3.4)                                             */
/* ------------------------------------------------------------------ */

static void
tcp_ping_done(void *arg, int status, const char *reply, size_t len)
{
	struct nc__outstream *o = arg;
	struct nc_gossip *g = o->g;
	struct stream_msg m;
	bool ok = false;

	o->kind = NC__OUT_FREE;
	if (status == 0 && stream_decode(g, reply, len, &m) == 0) {
		struct nc_proto_ack ack;
		const char *pos = m.body;
		ok = m.type == NC_PROTO_ACK &&
		     nc_proto_decode_ack(&pos, m.end, &ack) == 0 &&
		     ack.seq_no == o->seq;
		stream_msg_free(&m);
	}
	if (g->probe.active && g->probe.seq == o->seq &&
	    g->probe.tcp_id == o->id) {
		g->probe.tcp_id = 0;
		g->probe.tcp_result =
		    ok ? NC__TCP_PING_ACKED : NC__TCP_PING_FAILED;
	}
}

void
nc__tcp_ping_start(struct nc_gossip *g, const struct nc__member *m,
		   uint32_t seq, double timeout)
{
	struct nc__outstream *o = out_alloc(g, NC__OUT_PING);
	char buf[NC_GOSSIP_NAME_MAX * 2 + 128], *framed;
	struct nc_proto_ping ping;
	int len;
	long id;

	if (o == NULL)
		return;
	memset(&ping, 0, sizeof(ping));
	ping.seq_no = seq;
	ping.node = nc_proto_cstr(m->pub.name);
	ping.source_addr =
	    proto_str(g->cfg.advertise.ip, nc_addr_ip_len(&g->cfg.advertise));
	ping.source_port = g->cfg.advertise.port;
	ping.source_node = nc_proto_cstr(g->self->pub.name);
	len = nc_proto_encode_ping(buf, sizeof(buf), &ping);
	if (len > 0)
		len = stream_encode(g, buf, (size_t)len, &framed);
	if (len < 0) {
		o->kind = NC__OUT_FREE;
		return;
	}
	o->seq = seq;
	g->stats.tcp_pings++;
	id = g->env->ops->stream_request(g->env, &m->pub.addr, framed,
					 (size_t)len, 1, timeout, tcp_ping_done,
					 o);
	free(framed);
	if (id < 0) {
		o->kind = NC__OUT_FREE;
		return;
	}
	o->id = id;
	g->probe.tcp_id = id;
}

void
nc__streams_cancel_all(struct nc_gossip *g)
{
	for (int i = 0; i < NC__OUT_STREAMS_MAX; i++) {
		struct nc__outstream *o = &g->out[i];
		if (o->kind == NC__OUT_FREE)
			continue;
		g->env->ops->stream_cancel(g->env, o->id);
		o->kind = NC__OUT_FREE;
		if (o->join_ctx != NULL && --o->join_ctx->pending == 0)
			free(o->join_ctx); /* cancelled: cb is not called */
	}
}

/* ------------------------------------------------------------------ */
/* Inbound streams                                                      */
/* ------------------------------------------------------------------ */

int
nc__on_stream(void *ctx, const struct nc_addr *from, const char *req,
	      size_t req_len, struct nc_buf *reply)
{
	struct nc_gossip *g = ctx;
	struct stream_msg m;
	int rc;

	(void)from;
	g->stats.streams_in++;
	rc = stream_decode(g, req, req_len, &m);
	if (rc < 0) {
		g->stats.stream_errors++;
		nc_env_logf(g->env, NC_LOG_ERR, "memberlist",
			    "Failed to receive: %s",
			    m.err != NULL ? m.err : nc_proto_strerror(rc));
		reply_err(g, reply, m.err != NULL ? m.err : "bad stream");
		return 0;
	}
	switch (m.type) {
	case NC_PROTO_PUSH_PULL: {
		struct remote_state rs;
		char *plain;
		int plen;
		rc = pushpull_decode(g, m.body, m.end, &rs);
		if (rc < 0)
			break;
		g->stats.pushpull_in++;
		/* Reply first with the same Join flag, then merge (Go). */
		plen = pushpull_encode(g, rs.join, &plain);
		if (plen > 0) {
			reply_append(g, reply, plain, (size_t)plen);
			free(plain);
		}
		if (pushpull_merge(g, &rs, m.body, m.end) < 0)
			g->stats.pushpull_fail++;
		free(rs.nodes);
		break;
	}
	case NC_PROTO_PING: {
		struct nc_proto_ping ping;
		struct nc_proto_ack ack;
		const char *pos = m.body;
		const char *self = g->self->pub.name;
		char buf[64];
		int len;
		rc = nc_proto_decode_ping(&pos, m.end, &ping);
		if (rc < 0)
			break;
		if (ping.node.len > 0 &&
		    (ping.node.len != strlen(self) ||
		     memcmp(ping.node.data, self, ping.node.len) != 0)) {
			rc = -EINVAL;
			break;
		}
		memset(&ack, 0, sizeof(ack));
		ack.seq_no = ping.seq_no;
		len = nc_proto_encode_ack(buf, sizeof(buf), &ack);
		if (len > 0) {
			g->stats.acks_sent++;
			reply_append(g, reply, buf, (size_t)len);
		}
		break;
	}
	case NC_PROTO_USER: {
		struct nc_proto_user_stream u;
		const char *pos = m.body;
		rc = nc_proto_decode_user_stream(&pos, m.end, &u);
		if (rc < 0)
			break;
		if ((size_t)(m.end - pos) < u.user_msg_len) {
			rc = NC_PROTO_ETRUNC;
			break;
		}
		if (g->hooks.user_msg != NULL && u.user_msg_len > 0)
			g->hooks.user_msg(g->hooks.ctx, pos, u.user_msg_len);
		break;
	}
	default:
		rc = NC_PROTO_ETYPE;
		break;
	}
	stream_msg_free(&m);
	if (rc < 0) {
		g->stats.stream_errors++;
		nc_env_logf(g->env, NC_LOG_ERR, "memberlist",
			    "Received invalid stream: %s",
			    nc_proto_strerror(rc));
		return -1;
	}
	return 0;
}
