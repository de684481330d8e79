/*
 * sim - the lock over pamsim's shared state, and its lifecycle.
 */
#include "sim.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t pamsim_mu = PTHREAD_MUTEX_INITIALIZER;

/* pamsim_lock - take the state lock (vaults, counters, faults). */
void pamsim_lock(void)
{
	pthread_mutex_lock(&pamsim_mu);
}

/* pamsim_unlock - release the state lock. */
void pamsim_unlock(void)
{
	pthread_mutex_unlock(&pamsim_mu);
}

/* pamsim_init - build what requests share before any server starts. */
int pamsim_init(void)
{
	size_t len;

	/* The 2 MiB "huge" body is built once up front, not per request. */
	return pamsim_huge_body(&len) ? 0 : -1;
}

/* pamsim_fini - release shared state once all servers have stopped. */
void pamsim_fini(void)
{
	pamsim_vaults_free();
	pamsim_fault_clear();
	pamsim_stats_fini();
	pamsim_keys_free();
}

/* pamsim_err - format a reason into err and return -1, for one-line
 * error returns. */
int pamsim_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
