/*
 * ratelimit - the token bucket behind --kube-api-qps and
 * --kube-api-burst: one for the whole process, shared by every thread
 * that talks to the API server and charged for the requests workers
 * made. Like client-go's limiter it lets `burst` requests through at
 * once and then `qps` a second; unlike it, the balance may go negative
 * (a debt), because a worker's requests are only known after its job.
 * Times are passed in (monotonic ms) so that tests control the clock.
 */
#ifndef PAMOP_RATELIMIT_H
#define PAMOP_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	pthread_mutex_t mu;
	double qps, burst;     /* qps <= 0: no limit */
	double tokens;         /* may be negative */
	int64_t last_ms;
};

void rl_init(struct ratelimit *r, double qps, int burst, int64_t now);
/* rl_reserve - take n tokens now; returns the ms the caller must wait
 * before using them (0: at once). */
int64_t rl_reserve(struct ratelimit *r, double n, int64_t now);
/* rl_ready_in - ms until n tokens are there, without taking any. */
int64_t rl_ready_in(struct ratelimit *r, double n, int64_t now);

#endif
