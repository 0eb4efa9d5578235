/*
 * verify.c - measurements on top of coordinates: the re-ranking of a
 * verified nearest answer (the K best candidates by estimate, pinged,
 * ordered by measured RTT; Meridian, SIGCOMM 2005, finishes the same way
 * with direct probes) and the rule by which a node serves the RTT to a
 * member it measured itself (nc_coord_combine_rtt). Pure computation.
 */
#include "coord/coord.h"

#include <math.h>
#include <stdbool.h>

/** Does @a a rank before @a b (both answered or not, see header)? */
static bool
verified_before(const struct nc_coord_verified *a,
		const struct nc_coord_verified *b)
{
	bool aa = !isnan(a->measured_s), ba = !isnan(b->measured_s);
	if (aa != ba)
		return aa;
	if (!aa)
		return false; /* both silent: keep estimate order */
	return a->measured_s < b->measured_s;
}

void
nc_coord_rank_verified(struct nc_coord_verified *v, size_t n)
{
	/* Insertion sort: stable, so equal keys keep estimate order. */
	for (size_t i = 1; i < n; i++) {
		struct nc_coord_verified x = v[i];
		size_t j = i;
		while (j > 0 && verified_before(&x, &v[j - 1])) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

const char *
nc_coord_basis_str(enum nc_coord_basis b)
{
	switch (b) {
	case NC_COORD_BASIS_MEASURED:
		return "measured";
	case NC_COORD_BASIS_CLAMPED:
		return "clamped";
	default:
		return "estimate";
	}
}

void
nc_coord_combine_default(struct nc_coord_combine *r)
{
	r->fresh_s = 30.0;
	r->bound_s = 600.0;
	r->factor = 2.0;
}

double
nc_coord_combine_rtt(const struct nc_coord_combine *r, double est_s,
		     double measured_s, double age_s,
		     enum nc_coord_basis *basis)
{
	enum nc_coord_basis b = NC_COORD_BASIS_ESTIMATE;
	double out = est_s;
	bool have_m = isfinite(measured_s) && measured_s >= 0 &&
		      isfinite(age_s) && age_s >= 0;
	if (have_m && age_s <= r->fresh_s) {
		b = NC_COORD_BASIS_MEASURED;
		out = measured_s;
	} else if (have_m && age_s <= r->bound_s) {
		if (isnan(est_s)) {
			b = NC_COORD_BASIS_MEASURED;
			out = measured_s;
		} else {
			double f = r->factor >= 1.0 ? r->factor : 1.0;
			double lo = measured_s / f, hi = measured_s * f;
			if (est_s < lo || est_s > hi) {
				b = NC_COORD_BASIS_CLAMPED;
				out = est_s < lo ? lo : hi;
			}
		}
	}
	if (basis != NULL)
		*basis = b;
	return out;
}
