/*
 * agent/serf_relay.c - a netcoord agent helps spread serf's join and leave
 * intents, user events and queries, as a serf node does.
 *
 * Why: serf sends each broadcast only RetransmitMult x ceil(log10(n+1))
 * times, to random members, and relies on every receiver re-broadcasting
 * what is new to it (serf's NotifyMsg: handleNodeLeaveIntent,
 * handleNodeJoinIntent, handleUserEvent, handleQuery return "rebroadcast").
 * A node that drops them breaks that flood: in a mixed cluster, a message
 * whose few transmissions all land on netcoord agents never reaches the
 * serf nodes behind them (measured: 9 to 19 of 20 events reached each
 * serf with 3 serf + 10 netcoord agents). So we relay them too, with
 * serf's rules:
 *
 *  - intents: only one newer (LTime) than the last seen for that node;
 *  - user events: serf's event buffer (EventBuffer = 512 LTime slots): an
 *    event older than the clock minus the buffer is old news; one whose
 *    (name, payload) is already in its LTime's slot was seen;
 *  - queries: the same with the query buffer (QueryBuffer = 512) and the
 *    query ID; a query flagged no-broadcast is not relayed (but is new);
 *  - every LTime is witnessed by its clock (member: intents; event;
 *    query), as serf's LamportClock.Witness;
 *  - each new message is sent memberlist's retransmit limit times.
 *
 * Payloads are relayed whatever they hold. Every field used is checked:
 * the message must decode, names must pass nc_gossip_name_check (NUL,
 * control characters or invalid UTF-8 are refused: relaying would only
 * spread them), sizes are bounded by NC_AGENT_SERF_RELAY_MSG_MAX.
 * Intents about this node itself are not relayed (serf would refute a
 * leave intent about itself; we have no such logic, so we stay silent).
 *
 * The last 64 user events are kept for the operator (GET /v1/event/list).
 *
 * Memory: bounded, allocated on use and sized to what is held. The caps
 * are those of a fixed layout that took 192 KiB per agent whether used or
 * not: a queue of 48 messages of at most 1400 bytes (each now takes its
 * length), a ring of 256 (node, LTime) pairs (24 bytes + the name each),
 * two buffers of 512 slots of 48 bytes (24 KiB each, from the first
 * event / query on) and 64 recent events of 664 bytes (each from its
 * first use). An agent that relays intents only holds ~7 KiB + names;
 * at most ~192 KiB + names, as before. A failed allocation drops the
 * message (counted in `dropped`), as a full queue does.
 */
#include "agent/serf_relay.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "util/util.h"

/** The last intent remembered for @a name (NULL if none). */
static struct nc_agent_serf_relay_seen *
seen_find(struct nc_agent_serf_relay *r, const char *name, size_t nlen)
{
	struct nc_hmap_node *n = nc_hmap_find(&r->seen_index, name, nlen);
	return n != NULL ? NC_CONTAINER_OF(n, struct nc_agent_serf_relay_seen,
					   in_index)
			 : NULL;
}

void
nc_agent_serf_relay_destroy(struct nc_agent_serf_relay *r)
{
	for (size_t i = 0; i < r->q_len; i++)
		free(r->q[i]);
	r->q_len = 0;
	for (size_t i = 0; i < NC_AGENT_SERF_RELAY_SEEN; i++) {
		free(r->seen[i].name);
		r->seen[i].name = NULL;
		r->seen[i].name_len = 0;
	}
	nc_hmap_destroy(&r->seen_index);
	r->seen_next = 0;
	free(r->events);
	free(r->queries);
	r->events = r->queries = NULL;
	for (size_t i = 0; i < NC_AGENT_SERF_RECENT; i++) {
		free(r->recent[i]);
		r->recent[i] = NULL;
	}
	r->recent_n = r->recent_head = 0;
}

/** Append to the queue; when full, the oldest entry gives way. */
static void
enqueue(struct nc_agent_serf_relay *r, const char *buf, size_t len,
	unsigned transmits)
{
	struct nc_agent_serf_relay_item *it = malloc(sizeof(*it) + len);
	if (it == NULL) {
		r->dropped++;
		return;
	}
	if (r->q_len == NC_AGENT_SERF_RELAY_QUEUE) {
		free(r->q[0]);
		memmove(&r->q[0], &r->q[1], sizeof(r->q[0]) * (r->q_len - 1));
		r->q_len--;
		r->dropped++;
	}
	r->q[r->q_len++] = it;
	memcpy(it->msg, buf, len);
	it->len = len;
	it->left = transmits;
	it->in_pass = false;
}

static bool
name_ok(struct nc_agent_serf_relay *r, const struct nc_proto_str *name)
{
	if (name->len == 0 || name->len > NC_GOSSIP_NAME_MAX ||
	    nc_gossip_name_check(name->data, name->len) !=
		    NC_GOSSIP_NAME_OK) {
		r->bad_name++;
		r->ignored++;
		return false;
	}
	return true;
}

/* Intents (types 0 and 1): serf's handleNodeLeaveIntent / JoinIntent. */
static int
on_intent(struct nc_agent_serf_relay *r, uint8_t type, const char *buf,
	  size_t len, unsigned transmits)
{
	const char *pos = buf + 1, *end = buf + len;
	uint64_t ltime;
	struct nc_proto_str node;
	if (type == NC_PROTO_SERF_LEAVE) {
		struct nc_proto_serf_leave m;
		if (nc_proto_decode_serf_leave(&pos, end, &m) != 0)
			goto bad;
		ltime = m.ltime;
		node = m.node;
	} else {
		struct nc_proto_serf_join m;
		if (nc_proto_decode_serf_join(&pos, end, &m) != 0)
			goto bad;
		ltime = m.ltime;
		node = m.node;
	}
	if (node.len > 128) {
		r->ignored++;
		return NC_AGENT_SERF_IGNORED;
	}
	if (!name_ok(r, &node))
		return NC_AGENT_SERF_IGNORED;
	nc_agent_serf_clock_witness(&r->clock.member, ltime);
	if (r->self != NULL && strlen(r->self) == node.len &&
	    memcmp(r->self, node.data, node.len) == 0) {
		r->ignored++;
		return NC_AGENT_SERF_IGNORED;
	}
	/* Serf: an intent not newer than what we know is old news. */
	struct nc_agent_serf_relay_seen *s = seen_find(r, node.data, node.len);
	if (s != NULL && ltime <= s->ltime) {
		r->ignored++;
		return NC_AGENT_SERF_IGNORED;
	}
	if (s == NULL) {
		char *copy = malloc(node.len + 1);
		if (copy == NULL) {
			r->dropped++;
			r->ignored++;
			return NC_AGENT_SERF_IGNORED;
		}
		s = &r->seen[r->seen_next];
		r->seen_next = (r->seen_next + 1) % NC_AGENT_SERF_RELAY_SEEN;
		if (s->name != NULL)
			nc_hmap_remove(&r->seen_index, &s->in_index);
		free(s->name);
		s->name = copy;
		memcpy(s->name, node.data, node.len);
		s->name[node.len] = '\0';
		s->name_len = (uint8_t)node.len;
		if (nc_hmap_insert(&r->seen_index, &s->in_index, s->name,
				   node.len) != 0) {
			/* no bucket array: forget the slot rather than keep
			 * an entry no lookup can find */
			free(s->name);
			s->name = NULL;
			s->name_len = 0;
			r->dropped++;
			r->ignored++;
			return NC_AGENT_SERF_IGNORED;
		}
	}
	s->type = type;
	s->ltime = ltime;
	enqueue(r, buf, len, transmits);
	r->relayed_in++;
	return NC_AGENT_SERF_QUEUED;
bad:
	r->bad_msg++;
	r->ignored++;
	return NC_AGENT_SERF_IGNORED;
}

/*
 * serf's dedup buffer check for an event or query at @a ltime with
 * identity @a id, the clock @a clock already witnessed: returns true and
 * records it if it is new. The buffer (@a size slots) is allocated on the
 * first call; false if that fails (counted in dropped: the message is
 * neither recorded nor relayed).
 */
static bool
buffer_admit(struct nc_agent_serf_relay *r, struct nc_agent_serf_slot **bufp,
	     size_t size, uint64_t clock, uint64_t ltime, uint64_t id)
{
	if (*bufp == NULL) {
		*bufp = calloc(size, sizeof(**bufp));
		if (*bufp == NULL) {
			r->dropped++;
			return false;
		}
	}
	struct nc_agent_serf_slot *buf = *bufp;
	/* Too old: before the window the buffer covers. */
	if (clock > size && ltime < clock - size)
		return false;
	struct nc_agent_serf_slot *s = &buf[ltime % size];
	if (s->n > 0 && s->ltime == ltime) {
		for (unsigned i = 0; i < s->n; i++)
			if (s->ids[i] == id)
				return false;
	} else {
		memset(s, 0, sizeof(*s));
		s->ltime = ltime;
	}
	if (s->n < NC_AGENT_SERF_SLOT_IDS) {
		s->ids[s->n++] = id;
	} else {
		s->ids[s->next] = id;
		s->next = (uint8_t)((s->next + 1) % NC_AGENT_SERF_SLOT_IDS);
	}
	return true;
}

/** Identity of an event: FNV-1a of name, a separator and payload. */
static uint64_t
event_id(const struct nc_proto_serf_user_event *m)
{
	uint64_t h = nc_hash_bytes(m->name.data, m->name.len);
	/* Mix the length in so ("ab","c") and ("a","bc") differ. */
	h ^= (uint64_t)m->name.len * 0x9e3779b97f4a7c15ull;
	h ^= nc_hash_bytes(m->payload.data, m->payload.len) *
	     0xff51afd7ed558ccdull;
	return h;
}

/** Keep a copy of a new event for the operator. */
static void
recent_add(struct nc_agent_serf_relay *r,
	   const struct nc_proto_serf_user_event *m, bool own)
{
	struct nc_agent_serf_event *e;
	if (r->recent_n < NC_AGENT_SERF_RECENT) {
		struct nc_agent_serf_event **slot = &r->recent[r->recent_n];
		if (*slot == NULL)
			*slot = malloc(sizeof(**slot));
		if (*slot == NULL) {
			r->dropped++;
			return;
		}
		e = *slot;
		r->recent_n++;
	} else {
		e = r->recent[r->recent_head];
		r->recent_head = (r->recent_head + 1) % NC_AGENT_SERF_RECENT;
	}
	memset(e, 0, sizeof(*e));
	e->ltime = m->ltime;
	e->coalesce = m->cc;
	e->own = own;
	size_t nl = m->name.len, pl = m->payload.len;
	e->truncated = nl > NC_AGENT_SERF_EVENT_NAME_MAX ||
		       pl > NC_AGENT_SERF_EVENT_PAYLOAD_MAX;
	if (nl > NC_AGENT_SERF_EVENT_NAME_MAX)
		nl = NC_AGENT_SERF_EVENT_NAME_MAX;
	if (pl > NC_AGENT_SERF_EVENT_PAYLOAD_MAX)
		pl = NC_AGENT_SERF_EVENT_PAYLOAD_MAX;
	if (nl > 0)
		memcpy(e->name, m->name.data, nl);
	e->name_len = (uint16_t)nl;
	if (pl > 0)
		memcpy(e->payload, m->payload.data, pl);
	e->payload_len = (uint16_t)pl;
}

const struct nc_agent_serf_event *
nc_agent_serf_relay_recent(const struct nc_agent_serf_relay *r, size_t i)
{
	if (i >= r->recent_n)
		return NULL;
	return r->recent[(r->recent_head + i) % NC_AGENT_SERF_RECENT];
}

/* User events (type 3): serf's handleUserEvent. */
static int
on_event(struct nc_agent_serf_relay *r, const char *buf, size_t len,
	 unsigned transmits, bool own)
{
	const char *pos = buf + 1, *end = buf + len;
	struct nc_proto_serf_user_event m;
	if (nc_proto_decode_serf_user_event(&pos, end, &m) != 0 ||
	    m.ltime >= UINT64_MAX / 2) {
		r->bad_msg++;
		r->ignored++;
		return NC_AGENT_SERF_IGNORED;
	}
	nc_agent_serf_clock_witness(&r->clock.event, m.ltime);
	if (!buffer_admit(r, &r->events, NC_AGENT_SERF_EVENT_BUFFER,
			  r->clock.event, m.ltime, event_id(&m))) {
		r->events_old++;
		r->ignored++;
		return NC_AGENT_SERF_IGNORED;
	}
	if (!own)
		r->events_in++;
	recent_add(r, &m, own);
	enqueue(r, buf, len, transmits);
	r->relayed_in++;
	return NC_AGENT_SERF_QUEUED;
}

/* Queries (type 4): serf's handleQuery. */
static int
on_query(struct nc_agent_serf_relay *r, const char *buf, size_t len,
	 unsigned transmits, bool own)
{
	const char *pos = buf + 1, *end = buf + len;
	struct nc_proto_serf_query m;
	if (nc_proto_decode_serf_query(&pos, end, &m) != 0 ||
	    m.ltime >= UINT64_MAX / 2) {
		r->bad_msg++;
		r->ignored++;
		return NC_AGENT_SERF_IGNORED;
	}
	if (m.source_node.len > 0 && !name_ok(r, &m.source_node))
		return NC_AGENT_SERF_IGNORED;
	nc_agent_serf_clock_witness(&r->clock.query, m.ltime);
	if (!buffer_admit(r, &r->queries, NC_AGENT_SERF_QUERY_BUFFER,
			  r->clock.query, m.ltime, m.id)) {
		r->queries_old++;
		r->ignored++;
		return NC_AGENT_SERF_IGNORED;
	}
	if (!own)
		r->queries_in++;
	if (m.flags & NC_PROTO_SERF_QUERY_NO_BROADCAST)
		return NC_AGENT_SERF_NEW;
	enqueue(r, buf, len, transmits);
	r->relayed_in++;
	return NC_AGENT_SERF_QUEUED;
}

int
nc_agent_serf_relay_merge_event(struct nc_agent_serf_relay *r,
				const struct nc_proto_serf_user_event *m)
{
	if (m->ltime >= UINT64_MAX / 2)
		return 0;
	nc_agent_serf_clock_witness(&r->clock.event, m->ltime);
	if (!buffer_admit(r, &r->events, NC_AGENT_SERF_EVENT_BUFFER,
			  r->clock.event, m->ltime, event_id(m)))
		return 0;
	r->events_in++;
	r->events_merged++;
	recent_add(r, m, false);
	return 1;
}

static void
merge_event_cb(void *ctx, const struct nc_proto_serf_event *e)
{
	struct nc_proto_serf_user_event m = {
		.ltime = e->ltime,
		.name = e->name,
		.payload = e->payload,
	};
	nc_agent_serf_relay_merge_event(ctx, &m);
}

int
nc_agent_serf_relay_merge_state(struct nc_agent_serf_relay *r,
				const char *buf, size_t len)
{
	if (len < 1 || (uint8_t)buf[0] != NC_PROTO_SERF_PUSH_PULL) {
		r->bad_msg++;
		return NC_PROTO_EFORMAT;
	}
	/* Check the whole state first: nothing of a broken one is used. */
	struct nc_proto_serf_push_pull pp;
	const char *pos = buf + 1, *end = buf + len;
	int rc = nc_proto_decode_serf_push_pull(&pos, end, &pp, NULL);
	if (rc != 0) {
		r->bad_msg++;
		return rc;
	}
	/* serf: "We subtract 1 since no message with that clock has been
	 * sent yet". */
	if (pp.ltime > 0)
		nc_agent_serf_clock_witness(&r->clock.member, pp.ltime - 1);
	if (pp.event_ltime > 0)
		nc_agent_serf_clock_witness(&r->clock.event,
					    pp.event_ltime - 1);
	if (pp.query_ltime > 0)
		nc_agent_serf_clock_witness(&r->clock.query,
					    pp.query_ltime - 1);
	struct nc_proto_serf_push_pull_visitor v = {
		.ctx = r,
		.event = merge_event_cb,
	};
	pos = buf + 1;
	r->states_merged++;
	return nc_proto_decode_serf_push_pull(&pos, end, &pp, &v);
}

size_t
nc_agent_serf_relay_local_state(const struct nc_agent_serf_relay *r,
				char *buf, size_t cap)
{
	/* Join LTimes we know (a leave's LTime would read as a join to
	 * serf, which could revive a leaving member: left out). */
	struct nc_proto_serf_status st[NC_AGENT_SERF_RELAY_SEEN];
	size_t ns = 0;
	for (size_t i = 0; i < NC_AGENT_SERF_RELAY_SEEN; i++) {
		const struct nc_agent_serf_relay_seen *s = &r->seen[i];
		if (s->name_len == 0 || s->type != NC_PROTO_SERF_JOIN)
			continue;
		st[ns].name.data = s->name;
		st[ns].name.len = s->name_len;
		st[ns++].ltime = s->ltime;
	}
	/* Recent events, sorted by LTime (stable) so equal ones group. */
	struct nc_proto_serf_event ev[NC_AGENT_SERF_RECENT];
	size_t ne = 0;
	for (size_t i = 0; i < r->recent_n; i++) {
		const struct nc_agent_serf_event *e =
			nc_agent_serf_relay_recent(r, i);
		if (e->truncated)
			continue; /* not the event serf saw */
		struct nc_proto_serf_event x = {
			.ltime = e->ltime,
			.name = {e->name, e->name_len},
			.payload = {(const char *)e->payload, e->payload_len},
		};
		size_t k = ne++;
		while (k > 0 && ev[k - 1].ltime > x.ltime) {
			ev[k] = ev[k - 1];
			k--;
		}
		ev[k] = x;
	}
	struct nc_proto_serf_push_pull pp = {
		.ltime = r->clock.member,
		.event_ltime = r->clock.event,
		.query_ltime = r->clock.query,
		.status = st,
		.status_n = ns,
		.events = ev,
		.events_n = ne,
	};
	int n = nc_proto_encode_serf_push_pull(buf, cap, &pp);
	return n > 0 ? (size_t)n : 0;
}

static int
on_msg(struct nc_agent_serf_relay *r, const char *buf, size_t len,
       unsigned transmits, bool own)
{
	if (len < 2 || transmits == 0)
		return NC_AGENT_SERF_IGNORED;
	uint8_t type = (uint8_t)buf[0];
	if (type > NC_PROTO_SERF_QUERY || type == NC_PROTO_SERF_PUSH_PULL)
		return NC_AGENT_SERF_IGNORED;
	if (len > NC_AGENT_SERF_RELAY_MSG_MAX) {
		r->bad_msg++;
		r->ignored++;
		return NC_AGENT_SERF_IGNORED;
	}
	switch (type) {
	case NC_PROTO_SERF_LEAVE:
	case NC_PROTO_SERF_JOIN:
		return on_intent(r, type, buf, len, transmits);
	case NC_PROTO_SERF_USER_EVENT:
		return on_event(r, buf, len, transmits, own);
	default:
		return on_query(r, buf, len, transmits, own);
	}
}

int
nc_agent_serf_relay_on_msg(struct nc_agent_serf_relay *r, const char *buf,
			   size_t len, unsigned transmits)
{
	return on_msg(r, buf, len, transmits, false);
}

int
nc_agent_serf_relay_queue(struct nc_agent_serf_relay *r, const char *buf,
			  size_t len, unsigned transmits)
{
	if (len > NC_AGENT_SERF_RELAY_MSG_MAX)
		return -EMSGSIZE;
	if (transmits == 0)
		transmits = 1;
	return on_msg(r, buf, len, transmits, true) != NC_AGENT_SERF_IGNORED ?
		       0 : -EINVAL;
}

size_t
nc_agent_serf_relay_take(struct nc_agent_serf_relay *r, char *buf, size_t cap)
{
	/* Newest first (memberlist sends the least transmitted first); each
	 * message once per pass: a pass is one packet's worth, as
	 * memberlist's GetBroadcasts puts a broadcast in a packet once. */
	for (size_t k = r->q_len; k-- > 0;) {
		struct nc_agent_serf_relay_item *it = r->q[k];
		if (it->in_pass || it->len > cap)
			continue;
		memcpy(buf, it->msg, it->len);
		size_t n = it->len;
		r->relayed_out++;
		it->in_pass = true;
		if (--it->left == 0) {
			free(it);
			memmove(&r->q[k], &r->q[k + 1],
				sizeof(r->q[0]) * (r->q_len - k - 1));
			r->q_len--;
		}
		return n;
	}
	/* Everything pending was offered once: the next call starts a new
	 * pass (the next packet). */
	for (size_t k = 0; k < r->q_len; k++)
		r->q[k]->in_pass = false;
	return 0;
}
