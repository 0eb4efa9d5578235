/*
 * The member table and the rules that change it (PROTOCOL.md §6.2, §6.6,
 * §6.7): what to do with an alive, suspect or dead message, refutation,
 * suspicion timers, reaping, and the events the layer above sees.
 *
 * Table: one array in probe order (memberlist's m.nodes) and an nc_hmap
 * on the name (m.nodeMap; names compared by length, not strlen). A new member is appended and swapped with a
 * uniformly random position, so a newcomer is probed after a random share of
 * the round rather than always last (SWIM's "round-robin over a random
 * permutation" keeps the detection bound at 2n-1 probe periods in the worst
 * case). On every wrap of the probe index, dead members older than
 * GossipToTheDeadTime are reaped and the array is reshuffled; left members
 * are never reaped, as in memberlist 0.2.2.
 *
 * A member's suspicion timer and accusers live in a struct nc__suspicion
 * allocated when it turns suspect and freed when that ends, so that a
 * healthy member costs ~120 bytes plus its name and Meta (if that
 * allocation fails the member is not suspected this time; the next probe
 * failure tries again). Accusers are remembered by a 64-bit FNV-1a hash
 * of their name instead of the name itself (a false "already counted"
 * needs a hash collision between two accusers of the same suspicion;
 * negligible, and it can only make the timeout longer, never shorter).
 *
 * Departures from memberlist (all deliberate, each small):
 *   - an alive whose Vsn is not exactly 6 bytes is dropped. memberlist
 *     accepts an empty one and stores versions 0, which then breaks every
 *     later push/pull merge on that node (§5.2); a short one panics it.
 *   - an alive whose Meta exceeds 512 bytes or whose name exceeds
 *     NC_GOSSIP_NAME_MAX is dropped (memberlist has no receive-side check).
 *   - memberlist re-broadcasts a refutation under the key "ip:port" (a
 *     quirk: it then does not replace queued messages about the node); we
 *     key it by name.
 *   - an extra event, NC_GOSSIP_EV_ALIVE, reports suspect -> alive.
 *   - hostile input (issue 9), each refusal counted and logged at most
 *     once per NC_MEMBERS_REFUSE_LOG_INTERVAL with the name escaped:
 *     an alive, suspect or dead whose node or accuser name holds a NUL,
 *     a control character or invalid UTF-8 (nc_gossip_name_check) is
 *     dropped (drop_bad_name); an alive whose protocol range excludes
 *     ours, or ours its, is dropped (drop_bad_vsn) -- memberlist stores
 *     it and then fails every push/pull merge; a message about another
 *     alive or suspect member whose incarnation is more than
 *     NC_MEMBERS_INC_JUMP_MAX above the one we know is dropped
 *     (drop_bad_incarnation); our own incarnation never wraps: a
 *     refutation goes at most NC_MEMBERS_INC_JUMP_MAX above our own and
 *     saturates at UINT32_MAX; an alive about a new member while the
 *     table holds cfg.max_members is dropped (drop_member_cap; memberlist
 *     has no cap), known members are unaffected.
 */
#include "gossip/swim_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Longest encoded alive/suspect/dead: name, meta 512, addr 16, framing. */
#define NC_MEMBERS_MSG_MAX 1024

/**
 * Largest step above the incarnation we know of another live member that
 * we believe. A member raises its incarnation by one per refutation, and
 * only when someone accuses it; even a node suspected every probe period
 * of a whole partition does not refute 1024 times before we hear from it
 * again. A bigger jump can only be forged (or a bug), and believing it
 * would let one datagram -- dead{A, 0xFFFFFFFF} -- make A's refutations
 * worthless. Dead and left members are exempt: their comeback may carry
 * any incarnation.
 */
#define NC_MEMBERS_INC_JUMP_MAX 1024u

/** Seconds between two log lines about refused member messages. */
#define NC_MEMBERS_REFUSE_LOG_INTERVAL 10.0

static void susp_timer_cb(struct nc_timer *t);

static bool
name_eq(const struct nc__member *m, const char *name, size_t len)
{
	return m->name_len == len && memcmp(m->name_buf, name, len) == 0;
}

/*
 * The name index (g->names): linear probing, so a lookup touches one or
 * two adjacent slots and then the member; the array is never more than
 * 3/4 full, so a probe always ends at an empty slot. Hashes are not
 * stored: names are short, and only lookups, growth and removal hash.
 * Names come from the network: the hash is seeded per instance
 * (names_seed), so a sender cannot pick names that share one run.
 */
static size_t
name_home(const struct nc_gossip *g, const char *name, size_t len)
{
	return (size_t)nc_hash_bytes_seeded(g->names_seed, name, len) &
	       g->names_mask;
}

/** The slot holding @a name, or the empty slot where it would go. */
static size_t
name_slot(const struct nc_gossip *g, const char *name, size_t len)
{
	size_t i = name_home(g, name, len);

	while (g->names[i] != NULL && !name_eq(g->names[i], name, len))
		i = (i + 1) & g->names_mask;
	return i;
}

static int
names_grow(struct nc_gossip *g)
{
	size_t n = g->names != NULL ? 2 * (g->names_mask + 1) : 16;
	struct nc__member **old = g->names;
	size_t old_n = old != NULL ? g->names_mask + 1 : 0;
	struct nc__member **a = calloc(n, sizeof(*a));

	if (a == NULL)
		return -ENOMEM;
	g->names = a;
	g->names_mask = n - 1;
	for (size_t i = 0; i < old_n; i++)
		if (old[i] != NULL)
			a[name_slot(g, old[i]->name_buf, old[i]->name_len)] =
			    old[i];
	free(old);
	return 0;
}

static int
names_insert(struct nc_gossip *g, struct nc__member *m)
{
	if ((g->names_used + 1) * 4 > (g->names_mask + 1) * 3 ||
	    g->names == NULL) {
		if (names_grow(g) != 0)
			return -ENOMEM;
	}
	g->names[name_slot(g, m->name_buf, m->name_len)] = m;
	g->names_used++;
	return 0;
}

/** Remove @a m, shifting back the entries of its probe run. */
static void
names_remove(struct nc_gossip *g, const struct nc__member *m)
{
	size_t i, j;

	if (g->names == NULL)
		return;
	i = name_slot(g, m->name_buf, m->name_len);
	if (g->names[i] != m)
		return;
	for (j = (i + 1) & g->names_mask; g->names[j] != NULL;
	     j = (j + 1) & g->names_mask) {
		const struct nc__member *x = g->names[j];
		size_t k = name_home(g, x->name_buf, x->name_len);
		/* x may fill the hole at i unless its home lies cyclically
		 * in (i, j]. */
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			g->names[i] = g->names[j];
			i = j;
		}
	}
	g->names[i] = NULL;
	g->names_used--;
}

struct nc__member *
nc__member_find(struct nc_gossip *g, const char *name, size_t len)
{
	if (len > NC_GOSSIP_NAME_MAX || g->names == NULL)
		return NULL;
	return g->names[name_slot(g, name, len)];
}

/** Create a member (state dead, incarnation 0) at a random position. */
static struct nc__member *
member_new(struct nc_gossip *g, const char *name, size_t len)
{
	struct nc__member *m;
	size_t n = g->n_nodes, off;

	if (n + 1 > g->cap_nodes) {
		size_t cap = g->cap_nodes ? g->cap_nodes * 2 : 16;
		struct nc__member **a = realloc(g->nodes, cap * sizeof(*a));
		if (a == NULL)
			return NULL;
		g->nodes = a;
		g->cap_nodes = cap;
	}
	m = calloc(1, sizeof(*m) + len + 1);
	if (m == NULL)
		return NULL;
	memcpy(m->name_buf, name, len);
	m->name_buf[len] = '\0';
	m->name_len = (uint8_t)len;
	m->pub.name = m->name_buf;
	m->pub.state = NC_MEMBER_DEAD;
	m->pub.state_change = nc_env_now(g->env);
	if (names_insert(g, m) != 0) {
		free(m);
		return NULL;
	}
	/* Append, then swap with a random earlier slot (memberlist). */
	g->nodes[n] = m;
	g->n_nodes++;
	off = n > 0 ? (size_t)nc_env_rand_below(g->env, n) : 0;
	if (off != n) {
		struct nc__member *o = g->nodes[off];
		g->nodes[off] = m;
		g->nodes[n] = o;
	}
	return m;
}

/*
 * Meta blobs are shared: one refcounted copy per distinct byte string in
 * the thread (every instance of a thread: the fleet simulator's 10,000
 * agents each hold every other's Meta). Members of a real fleet mostly
 * carry the same few tag sets (dc, role, nc=1), so an agent holds each
 * set once rather than once per member; a set only one member carries
 * costs ~40 bytes more than a private copy. Key of the index: the bytes.
 */
struct meta_blob {
	struct nc_hmap_node in_index;
	uint32_t refs;
	uint8_t bytes[];
};

static _Thread_local struct nc_hmap meta_index;

/** A shared copy of @a len bytes (NULL for 0 bytes or on OOM: *oom). */
static const uint8_t *
meta_get(const char *data, size_t len, bool *oom)
{
	struct nc_hmap_node *n;
	struct meta_blob *b;

	*oom = false;
	if (len == 0)
		return NULL;
	n = nc_hmap_find(&meta_index, data, len);
	if (n != NULL) {
		b = NC_CONTAINER_OF(n, struct meta_blob, in_index);
		b->refs++;
		return b->bytes;
	}
	b = malloc(sizeof(*b) + len);
	if (b == NULL) {
		*oom = true;
		return NULL;
	}
	memcpy(b->bytes, data, len);
	b->refs = 1;
	if (nc_hmap_insert(&meta_index, &b->in_index, (const char *)b->bytes,
			   len) != 0) {
		free(b);
		*oom = true;
		return NULL;
	}
	return b->bytes;
}

/** Drop a reference taken by meta_get (NULL is fine). */
static void
meta_put(const uint8_t *p)
{
	struct meta_blob *b;

	if (p == NULL)
		return;
	b = (struct meta_blob *)(void *)((char *)(uintptr_t)p -
					 offsetof(struct meta_blob, bytes));
	if (--b->refs > 0)
		return;
	nc_hmap_remove(&meta_index, &b->in_index);
	free(b);
	if (meta_index.count == 0)
		nc_hmap_destroy(&meta_index);
}

/** Free a member and its Meta (already out of the table). */
static void
member_free(struct nc__member *m)
{
	if (m->susp != NULL) {
		m->susp->g->env->ops->timer_stop(m->susp->g->env,
						 &m->susp->timer);
		free(m->susp);
	}
	meta_put(m->pub.meta);
	free(m);
}

static void
member_unhash(struct nc_gossip *g, struct nc__member *m)
{
	names_remove(g, m);
}

void
nc__members_reset(struct nc_gossip *g)
{
	double now = nc_env_now(g->env);
	size_t w = 0;

	for (size_t i = 0; i < g->n_nodes; i++) {
		struct nc__member *m = g->nodes[i];
		if (m != g->self && m->pub.state == NC_MEMBER_DEAD &&
		    now - m->pub.state_change > g->cfg.gossip_to_the_dead_time) {
			if (g->probe.active && g->probe.target == m)
				nc__probe_abort(g);
			member_unhash(g, m);
			nc__member_event(g, NC_GOSSIP_EV_REAPED, m, NULL, 0);
			member_free(m);
			continue;
		}
		g->nodes[w++] = m;
	}
	g->n_nodes = w;
	/* Fisher-Yates. */
	for (size_t i = g->n_nodes; i > 1; i--) {
		size_t j = (size_t)nc_env_rand_below(g->env, i);
		struct nc__member *t = g->nodes[i - 1];
		g->nodes[i - 1] = g->nodes[j];
		g->nodes[j] = t;
	}
}

void
nc__members_destroy(struct nc_gossip *g)
{
	for (size_t i = 0; i < g->n_nodes; i++)
		member_free(g->nodes[i]);
	free(g->nodes);
	free(g->names);
	g->names = NULL;
	g->names_mask = g->names_used = 0;
	g->nodes = NULL;
	g->n_nodes = g->cap_nodes = 0;
}

size_t
nc__members_count_state(const struct nc_gossip *g, enum nc_member_state s)
{
	size_t c = 0;

	for (size_t i = 0; i < g->n_nodes; i++)
		c += g->nodes[i]->pub.state == s;
	return c;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

static const char *const nc_event_verb[] = {
	[NC_GOSSIP_EV_JOIN] = "join",
	[NC_GOSSIP_EV_UPDATE] = "update",
	[NC_GOSSIP_EV_SUSPECT] = "suspect",
	[NC_GOSSIP_EV_ALIVE] = "alive (refuted)",
	[NC_GOSSIP_EV_FAILED] = "failed",
	[NC_GOSSIP_EV_LEFT] = "left",
	[NC_GOSSIP_EV_REAPED] = "reaped",
};

void
nc__member_event(struct nc_gossip *g, enum nc_gossip_event ev,
		 struct nc__member *m, const char *by, size_t by_len)
{
	char byname[NC_GOSSIP_NAME_MAX + 1];
	const char *byp = NULL;

	if (by != NULL) {
		if (by_len > NC_GOSSIP_NAME_MAX)
			by_len = NC_GOSSIP_NAME_MAX;
		memcpy(byname, by, by_len);
		byname[by_len] = '\0';
		byp = byname;
	}
	nc_env_logf(g->env, ev == NC_GOSSIP_EV_UPDATE ? NC_LOG_DEBUG
						      : NC_LOG_INFO,
		    "memberlist", "%s %s (reported by %s)", nc_event_verb[ev],
		    m->pub.name, byp != NULL ? byp : "?");
	if (g->hooks.member_event != NULL)
		g->hooks.member_event(g->hooks.ctx, ev, &m->pub, byp);
}

/* ------------------------------------------------------------------ */
/* Broadcast encoders                                                  */
/* ------------------------------------------------------------------ */

static struct nc_proto_str
proto_str(const char *p, size_t len)
{
	struct nc_proto_str s = {.data = p, .len = (uint32_t)len};
	return s;
}

static void
broadcast_alive_of(struct nc_gossip *g, const struct nc__member *m)
{
	char buf[NC_MEMBERS_MSG_MAX];
	struct nc_proto_alive a = {
		.incarnation = m->pub.incarnation,
		.node = nc_proto_cstr(m->pub.name),
		.addr = proto_str((const char *)m->pub.addr.ip,
			       nc_addr_ip_len(&m->pub.addr)),
		.port = m->pub.addr.port,
		.meta = proto_str((const char *)m->pub.meta, m->pub.meta_len),
		.vsn = proto_str((const char *)m->pub.vsn, 6),
	};
	int len = nc_proto_encode_alive(buf, sizeof(buf), &a);

	if (len > 0)
		nc__broadcast(g, m->pub.name, buf, (size_t)len, NULL, NULL);
}

void
nc__broadcast_self_alive(struct nc_gossip *g)
{
	broadcast_alive_of(g, g->self);
}

static void
broadcast_suspect(struct nc_gossip *g, uint32_t inc, const char *node,
		     size_t node_len, const char *from, size_t from_len)
{
	char buf[NC_MEMBERS_MSG_MAX], key[NC_GOSSIP_NAME_MAX + 1];
	struct nc_proto_suspect s = {
		.incarnation = inc,
		.node = proto_str(node, node_len),
		.from = proto_str(from, from_len),
	};
	int len = nc_proto_encode_suspect(buf, sizeof(buf), &s);

	if (len <= 0 || node_len > NC_GOSSIP_NAME_MAX)
		return;
	memcpy(key, node, node_len);
	key[node_len] = '\0';
	nc__broadcast(g, key, buf, (size_t)len, NULL, NULL);
}

static void
broadcast_dead(struct nc_gossip *g, uint32_t inc, const char *node,
		  size_t node_len, const char *from, size_t from_len,
		  nc__bcast_done_cb done, void *arg)
{
	char buf[NC_MEMBERS_MSG_MAX], key[NC_GOSSIP_NAME_MAX + 1];
	struct nc_proto_dead d = {
		.incarnation = inc,
		.node = proto_str(node, node_len),
		.from = proto_str(from, from_len),
	};
	int len = nc_proto_encode_dead(buf, sizeof(buf), &d);

	if (len <= 0 || node_len > NC_GOSSIP_NAME_MAX) {
		if (done != NULL)
			done(arg, false);
		return;
	}
	memcpy(key, node, node_len);
	key[node_len] = '\0';
	nc__broadcast(g, key, buf, (size_t)len, done, arg);
}

/* ------------------------------------------------------------------ */
/* Refusals (issue 9)                                                  */
/* ------------------------------------------------------------------ */

/**
 * Count a refused message in @a counter and log why, with @a name
 * escaped; at most one line per NC_MEMBERS_REFUSE_LOG_INTERVAL (a flood
 * of forged names must not become a flood of log lines).
 */
static void
refuse(struct nc_gossip *g, uint64_t *counter, const char *what,
       const char *name, size_t len, const char *why)
{
	char esc[NC_GOSSIP_NAME_MAX + 16];
	double now = nc_env_now(g->env);

	(*counter)++;
	if (now - g->refuse_logged_at < NC_MEMBERS_REFUSE_LOG_INTERVAL) {
		g->refuse_unlogged++;
		return;
	}
	nc_env_logf(g->env, NC_LOG_WARN, "memberlist",
		    "Refusing %s about '%s': %s (%llu more refused since the "
		    "last such line; see stats)", what,
		    nc_gossip_name_escape(name, len, esc, sizeof(esc)), why,
		    (unsigned long long)g->refuse_unlogged);
	g->refuse_logged_at = now;
	g->refuse_unlogged = 0;
}

/** True if the node and accuser names are acceptable; counted if not. */
static bool
names_ok(struct nc_gossip *g, const char *what, const char *node,
	 size_t node_len, const char *from, size_t from_len)
{
	enum nc_gossip_name_problem p = nc_gossip_name_check(node, node_len);

	if (p == NC_GOSSIP_NAME_BAD_LENGTH) {
		g->stats.drop_other++;
		return false;
	}
	if (p != NC_GOSSIP_NAME_OK) {
		refuse(g, &g->stats.drop_bad_name, what, node, node_len,
		       nc_gossip_name_problem_str(p));
		return false;
	}
	if (from == NULL)
		return true;
	p = nc_gossip_name_check(from, from_len);
	if (p != NC_GOSSIP_NAME_OK) {
		refuse(g, &g->stats.drop_bad_name, what, node, node_len,
		       p == NC_GOSSIP_NAME_BAD_LENGTH
			   ? "accuser name empty or too long"
			   : "accuser name has control characters or "
			     "invalid UTF-8");
		return false;
	}
	return true;
}

/**
 * True if @a inc is believable for known member @a m (not ourselves):
 * at most NC_MEMBERS_INC_JUMP_MAX above what we know while it is alive
 * or suspect. Counted and logged if not.
 */
static bool
inc_ok(struct nc_gossip *g, const struct nc__member *m, uint32_t inc,
       const char *what)
{
	char why[96];

	if (m == g->self ||
	    (m->pub.state != NC_MEMBER_ALIVE &&
	     m->pub.state != NC_MEMBER_SUSPECT) ||
	    (uint64_t)inc <= (uint64_t)m->pub.incarnation +
				 NC_MEMBERS_INC_JUMP_MAX)
		return true;
	snprintf(why, sizeof(why),
		 "incarnation %lu jumps too far above the known %lu",
		 (unsigned long)inc, (unsigned long)m->pub.incarnation);
	refuse(g, &g->stats.drop_bad_incarnation, what, m->pub.name,
	       m->name_len, why);
	return false;
}

/* ------------------------------------------------------------------ */
/* Rules                                                               */
/* ------------------------------------------------------------------ */

void
nc__refute(struct nc_gossip *g, uint32_t accused)
{
	uint64_t own = g->self->pub.incarnation;
	uint64_t inc = own + 1;

	/* memberlist: accused + 1. Never more than NC_MEMBERS_INC_JUMP_MAX
	 * above our own (peers would refuse that alive as a forged jump),
	 * and never past UINT32_MAX (a wrap to 0 makes every later
	 * refutation of ours look old). */
	if (accused >= inc)
		inc = (uint64_t)accused + 1;
	if (inc > own + NC_MEMBERS_INC_JUMP_MAX)
		inc = own + NC_MEMBERS_INC_JUMP_MAX;
	if (inc > UINT32_MAX) {
		inc = UINT32_MAX;
		g->stats.drop_bad_incarnation++;
	}
	g->self->pub.incarnation = (uint32_t)inc;
	g->stats.refutations++;
	nc__awareness_delta(g, 1);
	nc__broadcast_self_alive(g);
}

/** End @a m's suspicion, if any (timer stopped, state freed). */
static void
susp_stop(struct nc__member *m)
{
	struct nc__suspicion *s = m->susp;

	if (s == NULL)
		return;
	s->g->env->ops->timer_stop(s->g->env, &s->timer);
	m->susp = NULL;
	free(s);
}

/** Sizes out of range: dropped without a word (counted). */
static bool
alive_malformed(const struct nc_proto_alive *a)
{
	return a->node.len == 0 || a->node.len > NC_GOSSIP_NAME_MAX ||
	       a->meta.len > NC_GOSSIP_META_MAX ||
	       (a->addr.len != 4 && a->addr.len != 16) ||
	       a->vsn.len != NC_PROTO_VSN_LEN;
}

/**
 * Protocol versions set and min <= max, and the alive's range and ours
 * include each other's current versions (what the push/pull check of
 * PROTOCOL.md §5.2 will require of it; an alive that fails it would make
 * every later merge fail). Logged and false otherwise.
 */
static bool
alive_vsn_ok(struct nc_gossip *g, const struct nc_proto_alive *a)
{
	const uint8_t *v = (const uint8_t *)a->vsn.data;
	const uint8_t *o = g->self != NULL ? g->self->pub.vsn : v;

	if (v[0] == 0 || v[1] == 0 || v[0] > v[1]) {
		char esc[NC_GOSSIP_NAME_MAX + 16];
		nc_env_logf(g->env, NC_LOG_WARN, "memberlist",
			    "Ignoring an alive message for '%s' "
			    "because protocol version(s) are wrong",
			    nc_gossip_name_escape(a->node.data, a->node.len,
						  esc, sizeof(esc)));
		g->stats.drop_bad_vsn++;
		return false;
	}
	if (o[2] < v[0] || o[2] > v[1] || o[5] < v[3] || o[5] > v[4] ||
	    v[2] < o[0] || v[2] > o[1] || v[5] < o[3] || v[5] > o[4]) {
		char why[96];
		snprintf(why, sizeof(why),
			 "protocol versions %u %u %u %u %u %u exclude ours "
			 "(%u %u %u %u %u %u)", v[0], v[1], v[2], v[3], v[4],
			 v[5], o[0], o[1], o[2], o[3], o[4], o[5]);
		refuse(g, &g->stats.drop_bad_vsn, "an alive", a->node.data,
		       a->node.len, why);
		return false;
	}
	return true;
}

/** The address an alive announces (port 0: ours). */
static void
alive_addr(const struct nc_gossip *g, const struct nc_proto_alive *a,
	   struct nc_addr *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->family = a->addr.len == 4 ? 4 : 6;
	memcpy(addr->ip, a->addr.data, a->addr.len);
	addr->port = a->port != 0 ? a->port : g->cfg.advertise.port;
}

/**
 * First alive about a node: add it with the alive's address, Meta and
 * versions (the first member ever added is our own). NULL on OOM.
 */
static struct nc__member *
alive_add_member(struct nc_gossip *g, const struct nc_proto_alive *a,
		 const struct nc_addr *addr)
{
	struct nc__member *m;
	bool oom;
	const uint8_t *meta = meta_get(a->meta.data, a->meta.len, &oom);

	if (oom)
		return NULL;
	m = member_new(g, a->node.data, a->node.len);
	if (m == NULL) {
		meta_put(meta);
		return NULL;
	}
	m->pub.addr = *addr;
	m->pub.meta = meta;
	m->pub.meta_len = a->meta.len;
	memcpy(m->pub.vsn, a->vsn.data, 6);
	if (g->self == NULL) {
		g->self = m;
		m->pub.is_self = true;
	}
	return m;
}

/**
 * An alive gives known member @a m another address: a left member may
 * come back at a new one (true); for anyone else it is a conflict, logged,
 * and the alive is refused (false).
 */
static bool
alive_addr_change_ok(struct nc_gossip *g, const struct nc__member *m,
		     const struct nc_addr *addr)
{
	char abuf[64], obuf[64];

	if (m->pub.state == NC_MEMBER_LEFT) {
		nc_env_logf(g->env, NC_LOG_INFO, "memberlist",
			    "Updating address for left node %s from "
			    "%s to %s", m->pub.name,
			    nc_addr_format(&m->pub.addr, obuf, sizeof(obuf)),
			    nc_addr_format(addr, abuf, sizeof(abuf)));
		return true;
	}
	nc_env_logf(g->env, NC_LOG_ERR, "memberlist",
		    "Conflicting address for %s. Mine: %s "
		    "Theirs: %s Old state: %s", m->pub.name,
		    nc_addr_format(&m->pub.addr, obuf, sizeof(obuf)),
		    nc_addr_format(addr, abuf, sizeof(abuf)),
		    nc_member_state_str(m->pub.state));
	if (g->hooks.conflict != NULL)
		g->hooks.conflict(g->hooks.ctx, &m->pub, addr);
	return false;
}

/** Someone else's alive about us: refute it unless it says what we say. */
static void
alive_about_self(struct nc_gossip *g, struct nc__member *m,
		 const struct nc_proto_alive *a, bool meta_changed)
{
	if (a->incarnation == m->pub.incarnation && !meta_changed &&
	    memcmp(a->vsn.data, m->pub.vsn, 6) == 0)
		return;
	nc__refute(g, a->incarnation);
	nc_env_logf(g->env, NC_LOG_WARN, "memberlist",
		    "Refuting an alive message for '%s'", m->pub.name);
}

/**
 * Take the alive's incarnation, Meta, versions and address; @a m is alive
 * (its suspicion, if any, ends). The new Meta is copied before anything
 * changes: on OOM nothing changes and false is returned.
 */
static bool
alive_apply(struct nc_gossip *g, struct nc__member *m,
	    const struct nc_proto_alive *a, const struct nc_addr *addr,
	    bool meta_changed)
{
	const uint8_t *meta = NULL;
	bool oom = false;

	if (meta_changed)
		meta = meta_get(a->meta.data, a->meta.len, &oom);
	if (oom)
		return false;
	susp_stop(m);
	m->pub.incarnation = a->incarnation;
	if (meta_changed) {
		meta_put(m->pub.meta);
		m->pub.meta = meta;
		m->pub.meta_len = a->meta.len;
	}
	memcpy(m->pub.vsn, a->vsn.data, 6);
	m->pub.addr = *addr;
	if (m->pub.state != NC_MEMBER_ALIVE) {
		m->pub.state = NC_MEMBER_ALIVE;
		m->pub.state_change = nc_env_now(g->env);
	}
	return true;
}

/** Events of an applied alive: (re)join, back from suspect, new Meta. */
static void
alive_events(struct nc_gossip *g, struct nc__member *m,
	     enum nc_member_state old_state, bool meta_changed)
{
	if (old_state == NC_MEMBER_DEAD || old_state == NC_MEMBER_LEFT) {
		nc__failed_remove(g, m->pub.name);
		nc__member_event(g, NC_GOSSIP_EV_JOIN, m, m->pub.name,
				 strlen(m->pub.name));
	} else {
		if (old_state == NC_MEMBER_SUSPECT)
			nc__member_event(g, NC_GOSSIP_EV_ALIVE, m, m->pub.name,
					 strlen(m->pub.name));
		if (meta_changed)
			nc__member_event(g, NC_GOSSIP_EV_UPDATE, m,
					 m->pub.name, strlen(m->pub.name));
	}
}

void
nc__handle_alive(struct nc_gossip *g, const struct nc_proto_alive *a,
		 bool bootstrap)
{
	struct nc__member *m;
	struct nc_addr addr;
	bool is_self, updates_node = false, meta_changed;
	enum nc_member_state old_state;

	if (alive_malformed(a)) {
		g->stats.drop_other++;
		return;
	}
	if (!names_ok(g, "an alive", a->node.data, a->node.len, NULL, 0))
		return;
	/* The first alive ever handled is our own (bootstrap in new()). */
	is_self = g->self == NULL ||
		  name_eq(g->self, a->node.data, a->node.len);
	if (is_self && g->leaving)
		return;
	if (!alive_vsn_ok(g, a))
		return;
	alive_addr(g, a, &addr);

	m = nc__member_find(g, a->node.data, a->node.len);
	if (m == NULL && g->self != NULL && g->cfg.max_members > 0 &&
	    g->n_nodes >= g->cfg.max_members) {
		refuse(g, &g->stats.drop_member_cap, "an alive", a->node.data,
		       a->node.len, "the member table is full (max_members)");
		return;
	}
	if (m == NULL) {
		m = alive_add_member(g, a, &addr);
		if (m == NULL)
			return;
	} else if (!is_self && !inc_ok(g, m, a->incarnation, "an alive")) {
		return;
	} else if (!nc_addr_equal(&m->pub.addr, &addr)) {
		if (!alive_addr_change_ok(g, m, &addr))
			return;
		updates_node = true;
	}
	if (!is_self && !updates_node && a->incarnation <= m->pub.incarnation)
		return;
	if (is_self && a->incarnation < m->pub.incarnation)
		return;
	meta_changed = m->pub.meta_len != a->meta.len ||
		       (a->meta.len > 0 &&
			memcmp(m->pub.meta, a->meta.data, a->meta.len) != 0);
	/* (Own entry: never suspected, so no timer to stop first.) */
	if (!bootstrap && is_self) {
		alive_about_self(g, m, a, meta_changed);
		return;
	}
	old_state = m->pub.state;
	if (!alive_apply(g, m, a, &addr, meta_changed))
		return;
	if (!g->seeding)
		broadcast_alive_of(g, m);
	if (!is_self)
		alive_events(g, m, old_state, meta_changed);
}

const uint8_t *
nc__meta_get(const uint8_t *data, size_t len, bool *oom)
{
	return meta_get((const char *)data, len, oom);
}

void
nc__meta_put(const uint8_t *p)
{
	meta_put(p);
}

int
nc_gossip_seed_member(struct nc_gossip *g, const char *name,
		      const struct nc_addr *addr, const uint8_t *meta,
		      size_t meta_len, uint32_t incarnation)
{
	struct nc_proto_alive a = {
		.incarnation = incarnation,
		.node = nc_proto_cstr(name),
		.addr = proto_str((const char *)addr->ip, nc_addr_ip_len(addr)),
		.port = addr->port,
		.meta = proto_str((const char *)meta, meta_len),
		.vsn = proto_str((const char *)g->cfg.vsn, 6),
	};
	const struct nc__member *m;

	g->seeding = true;
	nc__handle_alive(g, &a, false);
	g->seeding = false;
	m = nc__member_find(g, a.node.data, a.node.len);
	return m != NULL && m->pub.state == NC_MEMBER_ALIVE &&
			       m->pub.incarnation == incarnation
		   ? 0
		   : -EINVAL;
}

/** Count @a from as a confirmation; true if it was new and counted. */
static bool
susp_confirm(struct nc_gossip *g, struct nc__suspicion *s, const char *from,
		size_t from_len)
{
	uint64_t h = nc_hash_bytes(from, from_len);
	double remaining;

	if (s->n >= s->params.k)
		return false;
	for (int i = 0; i <= s->n; i++)
		if (s->from[i] == h)
			return false;
	s->n++;
	s->from[s->n] = h;
	remaining = nc__suspicion_timeout(&s->params, s->n) -
		    (nc_env_now(g->env) - s->start);
	g->env->ops->timer_start(g->env, &s->timer,
				 remaining > 0 ? remaining : 0);
	return true;
}

void
nc__handle_suspect(struct nc_gossip *g, uint32_t inc, const char *node,
		   size_t node_len, const char *from, size_t from_len)
{
	struct nc__member *m;
	struct nc__suspicion *s;
	char esc[NC_GOSSIP_NAME_MAX + 16];

	if (!names_ok(g, "a suspect", node, node_len, from, from_len))
		return;
	m = nc__member_find(g, node, node_len);
	if (m == NULL || inc < m->pub.incarnation ||
	    !inc_ok(g, m, inc, "a suspect"))
		return;
	if (m->susp != NULL && nc_timer_active(&m->susp->timer)) {
		if (susp_confirm(g, m->susp, from, from_len))
			broadcast_suspect(g, inc, node, node_len, from,
					     from_len);
		return;
	}
	if (m->pub.state != NC_MEMBER_ALIVE)
		return;
	if (m == g->self) {
		nc__refute(g, inc);
		nc_env_logf(g->env, NC_LOG_WARN, "memberlist",
			    "Refuting a suspect message (from: %s)",
			    nc_gossip_name_escape(from, from_len, esc,
						  sizeof(esc)));
		return;
	}
	susp_stop(m);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return;
	broadcast_suspect(g, inc, node, node_len, from, from_len);
	m->pub.incarnation = inc;
	m->pub.state = NC_MEMBER_SUSPECT;
	m->pub.state_change = nc_env_now(g->env);
	g->stats.suspicions++;
	m->susp = s;
	s->m = m;
	s->g = g;
	nc_timer_init(&s->timer, susp_timer_cb, s);
	nc__suspicion_params(&g->cfg, g->n_nodes, &s->params);
	s->start = m->pub.state_change;
	s->change = m->pub.state_change;
	s->n = 0;
	s->from[0] = nc_hash_bytes(from, from_len);
	g->env->ops->timer_start(
	    g->env, &s->timer, s->params.k < 1 ? s->params.min : s->params.max);
	nc__member_event(g, NC_GOSSIP_EV_SUSPECT, m, from, from_len);
}

static void
susp_timer_cb(struct nc_timer *t)
{
	struct nc__suspicion *s = t->arg;
	struct nc__member *m = s->m;
	struct nc_gossip *g = s->g;

	if (m->pub.state != NC_MEMBER_SUSPECT ||
	    m->pub.state_change != s->change) {
		susp_stop(m);
		return;
	}
	nc_env_logf(g->env, NC_LOG_INFO, "memberlist",
		    "Marking %s as failed, suspect timeout reached (%d peer "
		    "confirmations)", m->pub.name, s->n);
	nc__handle_dead(g, m->pub.incarnation, m->pub.name, m->name_len,
			g->self->pub.name, g->self->name_len);
}

void
nc__handle_dead(struct nc_gossip *g, uint32_t inc, const char *node,
		size_t node_len, const char *from, size_t from_len)
{
	struct nc__member *m;
	bool left;
	char esc[NC_GOSSIP_NAME_MAX + 16];

	if (!names_ok(g, "a dead", node, node_len, from, from_len))
		return;
	m = nc__member_find(g, node, node_len);
	if (m == NULL || inc < m->pub.incarnation ||
	    !inc_ok(g, m, inc, "a dead"))
		return;
	susp_stop(m);
	if (m->pub.state == NC_MEMBER_DEAD || m->pub.state == NC_MEMBER_LEFT)
		return;
	left = from_len == node_len && memcmp(from, node, node_len) == 0;
	if (m == g->self) {
		if (!g->leaving) {
			nc__refute(g, inc);
			nc_env_logf(g->env, NC_LOG_WARN, "memberlist",
				    "Refuting a dead message (from: %s)",
				    nc_gossip_name_escape(from, from_len, esc,
							  sizeof(esc)));
			return;
		}
		broadcast_dead(g, inc, node, node_len, from, from_len,
				  nc__leave_dead_done, g);
	} else {
		broadcast_dead(g, inc, node, node_len, from, from_len, NULL,
				  NULL);
	}
	m->pub.incarnation = inc;
	m->pub.state = left ? NC_MEMBER_LEFT : NC_MEMBER_DEAD;
	m->pub.state_change = nc_env_now(g->env);
	if (left) {
		nc__failed_remove(g, m->pub.name);
		nc__member_event(g, NC_GOSSIP_EV_LEFT, m, node, node_len);
	} else {
		g->stats.deaths_declared++;
		nc__failed_add(g, m);
		nc__member_event(g, NC_GOSSIP_EV_FAILED, m, from, from_len);
	}
}
