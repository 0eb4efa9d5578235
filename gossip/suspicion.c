/*
 * Lifeguard's two self-tuning knobs (Dadgar et al., "Lifeguard: Local
 * Health Awareness for More Accurate Failure Detection", 2018), with
 * memberlist 0.2.2's numbers (PROTOCOL.md §6.5, §6.7).
 *
 * Dynamic suspicion timeout. A suspicion starts with the long timeout max
 * and shrinks towards min as independent accusers confirm it:
 *
 *   k   = SuspicionMult - 2           (0 if n - 2 < k)
 *   min = SuspicionMult x max(1, log10(max(1, n))) x ProbeInterval
 *         (the scale factor kept to 1/1000, as Go's Duration arithmetic)
 *   max = SuspicionMaxTimeoutMult x min
 *   timeout(c) = max - ln(c + 1) / ln(k + 1) x (max - min), floored to ms,
 *                never below min; with k = 0 it is min.
 *
 * The timer always measures from the start of the suspicion, so a late
 * confirmation whose timeout has already elapsed fires at once.
 *
 * With cfg->lifeguard off we run classic SWIM for comparison: k = 0, i.e.
 * a fixed timeout of min, and no awareness (score stays 0). The same,
 * one component at a time: lha_suspicion off gives k = 0, lha_probe off
 * keeps the score at 0.
 *
 * Local health awareness: a score 0..AwarenessMaxMultiplier-1 that grows
 * when this node's probes fail without the helpers' nacks (a sign that the
 * problem is here, not there) or when it has to refute, and shrinks on
 * every successful probe. Probe interval and ack wait scale by score + 1.
 * (The score itself lives in struct nc_gossip; the deltas are applied in
 * swim.c and members.c.)
 */
#include "gossip/swim_internal.h"

#include <math.h>

void
nc__suspicion_params(const struct nc_gossip_config *cfg, size_t n,
		     struct nc__susp_params *out)
{
	double scale = fmax(1.0, log10(fmax(1.0, (double)n)));
	/* Go: Duration(mult) * Duration(scale*1000) * interval / 1000. */
	double scale_ms = floor(scale * 1000.0) / 1000.0;
	int k = cfg->suspicion_mult - 2;

	if (k < 0 || (long)n - 2 < (long)k ||
	    !nc__lifeguard_on(cfg, cfg->lha_suspicion))
		k = 0;
	if (k > NC__SUSP_MAX_K)
		k = NC__SUSP_MAX_K;
	out->k = k;
	out->min = cfg->suspicion_mult * scale_ms * cfg->probe_interval;
	out->max = cfg->suspicion_max_timeout_mult * out->min;
	if (out->max < out->min)
		out->max = out->min;
}

double
nc__suspicion_timeout(const struct nc__susp_params *p, int c)
{
	double frac, raw, t;

	if (p->k < 1)
		return p->min;
	if (c > p->k)
		c = p->k;
	frac = log((double)c + 1.0) / log((double)p->k + 1.0);
	raw = p->max - frac * (p->max - p->min);
	t = floor(raw * 1000.0) / 1000.0;
	return t < p->min ? p->min : t;
}

void
nc__awareness_delta(struct nc_gossip *g, int delta)
{
	int max = g->cfg.awareness_max_multiplier - 1;

	if (!nc__lifeguard_on(&g->cfg, g->cfg.lha_probe))
		return;
	g->awareness += delta;
	if (g->awareness < 0)
		g->awareness = 0;
	if (g->awareness > max)
		g->awareness = max > 0 ? max : 0;
}
