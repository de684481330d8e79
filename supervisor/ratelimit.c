/*
 * ratelimit.c - see ratelimit.h.
 */
#include "ratelimit.h"


void rl_init(struct ratelimit *r, double qps, int burst, int64_t now)
{
	pthread_mutex_init(&r->mu, NULL);
	r->qps = qps;
	r->burst = burst > 0 ? burst : 1;
	r->tokens = r->burst;
	r->last_ms = now;
}

/* refill - add what accrued since last_ms, up to burst; mu held. */
static void refill(struct ratelimit *r, int64_t now)
{
	if (now > r->last_ms) {
		r->tokens += (double)(now - r->last_ms) * r->qps / 1000.0;
		if (r->tokens > r->burst)
			r->tokens = r->burst;
		r->last_ms = now;
	}
}

/* wait_for - ms until the balance reaches need; mu held. */
static int64_t wait_for(const struct ratelimit *r, double need)
{
	double ms = (need - r->tokens) * 1000.0 / r->qps;
	int64_t whole = (int64_t)ms;

	if (r->tokens >= need)
		return 0;
	return whole < ms ? whole + 1 : whole;   /* round up: never early */
}

/* op - take n tokens (returning the wait before they may be used), or
 * only say how long until n are there (at most a full bucket). */
static int64_t op(struct ratelimit *r, double n, int64_t now, bool take)
{
	int64_t ms;

	if (r->qps <= 0)
		return 0;
	pthread_mutex_lock(&r->mu);
	refill(r, now);
	if (take)
		r->tokens -= n;
	ms = wait_for(r, take ? 0 : n > r->burst ? r->burst : n);
	pthread_mutex_unlock(&r->mu);
	return ms;
}

int64_t rl_reserve(struct ratelimit *r, double n, int64_t now)
{
	return op(r, n, now, true);
}

int64_t rl_ready_in(struct ratelimit *r, double n, int64_t now)
{
	return op(r, n, now, false);
}
