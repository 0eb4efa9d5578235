/*
 * agent/serf_relay.c - a netcoord agent helps spread serf's join and leave
 * intents, as a serf node does.
 *
 * Why: serf marks a member "left" (not "failed") only if a leave intent
 * reached it before memberlist's dead message (PROTOCOL.md §7.4). Serf
 * nodes rebroadcast every new intent they receive (handleNodeLeaveIntent /
 * handleNodeJoinIntent return true → broadcast), so an intent floods the
 * cluster even though memberlist sends each broadcast only
 * RetransmitMult × ceil(log10(n+1)) times (2 in a small cluster with the
 * local profile). A node that drops intents breaks that flood: in a mixed
 * cluster, an intent whose few transmissions all land on netcoord agents
 * never reaches the serf nodes, which then mark the leaver failed. So we
 * relay them too, with the same rule serf uses: only an intent newer
 * (LTime) than the last one seen for that node, same retransmit limit.
 *
 * An intent whose node name has a NUL, a control character or invalid
 * UTF-8 (nc_gossip_name_check) is refused, as gossip/ refuses such a
 * member: relaying it would only spread it.
 *
 * Intents about this node itself are not relayed (serf would refute a
 * leave intent about itself; we have no such logic, so we stay silent).
 * Memory: a fixed queue of 32 messages and a ring of 256 (node, LTime)
 * pairs, ~45 KiB with the agent; nothing is allocated.
 */
#include "agent/serf_relay.h"

#include <string.h>

#include "gossip/gossip.h"
#include "gossip/proto.h"

/** The last intent remembered for @a name (NULL if none). */
static struct nc_agent_serf_relay_seen *
seen_find(struct nc_agent_serf_relay *r, const char *name, size_t nlen)
{
	for (size_t i = 0; i < NC_AGENT_SERF_RELAY_SEEN; i++) {
		struct nc_agent_serf_relay_seen *s = &r->seen[i];
		if (s->name_len != 0 && s->name_len == nlen &&
		    memcmp(s->name, name, nlen) == 0)
			return s;
	}
	return NULL;
}

int
nc_agent_serf_relay_on_msg(struct nc_agent_serf_relay *r, const char *buf, size_t len,
		     unsigned transmits)
{
	if (len < 2 || len > NC_AGENT_SERF_RELAY_MSG_MAX || transmits == 0)
		return 0;
	uint8_t type = (uint8_t)buf[0];
	const char *pos = buf + 1, *end = buf + len;
	uint64_t ltime;
	struct nc_proto_str node;
	if (type == NC_PROTO_SERF_LEAVE) {
		struct nc_proto_serf_leave m;
		if (nc_proto_decode_serf_leave(&pos, end, &m) != 0)
			return 0;
		ltime = m.ltime;
		node = m.node;
	} else if (type == NC_PROTO_SERF_JOIN) {
		struct nc_proto_serf_join m;
		if (nc_proto_decode_serf_join(&pos, end, &m) != 0)
			return 0;
		ltime = m.ltime;
		node = m.node;
	} else {
		return 0;
	}
	if (node.len == 0 || node.len > 128)
		return 0;
	if (nc_gossip_name_check(node.data, node.len) != NC_GOSSIP_NAME_OK) {
		r->bad_name++;
		r->ignored++;
		return 0;
	}
	if (r->self != NULL && strlen(r->self) == node.len &&
	    memcmp(r->self, node.data, node.len) == 0) {
		r->ignored++;
		return 0;
	}
	/* Serf: an intent not newer than what we know is old news. */
	struct nc_agent_serf_relay_seen *s = seen_find(r, node.data, node.len);
	if (s != NULL && ltime <= s->ltime) {
		r->ignored++;
		return 0;
	}
	if (s == NULL) {
		s = &r->seen[r->seen_next];
		r->seen_next = (r->seen_next + 1) % NC_AGENT_SERF_RELAY_SEEN;
		memcpy(s->name, node.data, node.len);
		s->name[node.len] = '\0';
		s->name_len = (uint8_t)node.len;
	}
	s->type = type;
	s->ltime = ltime;
	/* Queue; when full, the oldest entry gives way. */
	if (r->q_len == NC_AGENT_SERF_RELAY_QUEUE) {
		memmove(&r->q[0], &r->q[1], sizeof(r->q[0]) * (r->q_len - 1));
		r->q_len--;
	}
	struct nc_agent_serf_relay_item *it = &r->q[r->q_len++];
	memcpy(it->msg, buf, len);
	it->len = len;
	it->left = transmits;
	r->relayed_in++;
	return 1;
}

size_t
nc_agent_serf_relay_take(struct nc_agent_serf_relay *r, char *buf, size_t cap)
{
	for (size_t k = 0; k < r->q_len; k++) {
		size_t i = (r->q_next + k) % r->q_len;
		struct nc_agent_serf_relay_item *it = &r->q[i];
		if (it->len > cap)
			continue;
		memcpy(buf, it->msg, it->len);
		size_t n = it->len;
		r->relayed_out++;
		if (--it->left == 0) {
			memmove(&r->q[i], &r->q[i + 1],
				sizeof(r->q[0]) * (r->q_len - i - 1));
			r->q_len--;
			r->q_next = r->q_len ? i % r->q_len : 0;
		} else {
			r->q_next = (i + 1) % r->q_len;
		}
		return n;
	}
	return 0;
}
