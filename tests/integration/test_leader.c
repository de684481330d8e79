/*
 * leader: two replicas on one Lease. Only the leader writes (the
 * follower's own request metrics show no write but to the Lease);
 * SIGTERM ends the leader in under 10 s with the Lease released, even
 * with a job in flight, and the standby takes over at its next retry;
 * kill -9 hands over once the lease runs out, and a workload is
 * restarted once per data change across the handover; a leader that
 * cannot renew stops all work by the renew deadline.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "observe.h"
#include "suites.h"

#define V_USER "7c2e0d4f-0000-4000-8000-00000000a001"
#define KEY "5a6b7c8d-1111-2222-3333-444455556666"
#define PW1 "pw-Lx42-first"
#define PW2 "pw-Lx42-second"
/* the Lease deploy/'s Role lets the operator's ServiceAccount use */
#define LEASE_NS "pam-operator-system"
#define LEASE "pam-operator-leader"

#define LEASE_MS 15000
#define RETRY_MS 2000

static struct pamsim pam;

static char *vaults(const char *pw)
{
	return vaults_json(NULL, NULL, V_USER, pw);
}

static void setup(void)
{
	char *v = vaults(PW1);

	pamsim_start(&pam, v, KEY);
	free(v);
}

static void teardown(void)
{
	static const char *const secrets[] = { KEY, PW1, PW2, NULL };

	pamsim_stop(&pam);
	assert_file_lacks(pam.log, secrets);
}

static void replica(struct manager *m)
{
	manager_start(m, "--workers=1 --leader-elect=true "
	    "--leader-election-namespace=" LEASE_NS " --leader-election-id=" LEASE);
}

/* lease_reset - no Lease left by an earlier test's replicas. */
static void lease_reset(void)
{
	sh("kubectl -n " LEASE_NS " delete lease " LEASE " --ignore-not-found >/dev/null 2>&1");
}

/* identity_of - the identity a replica logged at start. */
static char *identity_of(const struct manager *m)
{
	return sh_out("grep -o 'msg=starting .*identity=[^ ]*' '%s' | head -1 | "
	    "sed 's/.*identity=//'", m->log);
}

static void wait_holder(const char *want, int timeout_ms)
{
	wait_jp(LEASE_NS, "lease", LEASE, "{.spec.holderIdentity}", want, timeout_ms);
}

/* first_leader - a MonoStore in ns, no Lease, then replica a, which
 * takes it; returns a's identity. */
static char *first_leader(const char *ns, struct manager *a)
{
	char *id;

	store_setup(ns, &pam, KEY);
	lease_reset();
	replica(a);
	id = identity_of(a);
	wait_holder(id, 5000);
	return id;
}

static void set_password(const char *pw)
{
	char *v = vaults(pw);

	pamsim_put_vaults(&pam, v);
	free(v);
}

static bool secret_is(const char *ns, const char *pw)
{
	char *v = secret_value(ns, "db-k8s", "password");
	bool eq = v && strcmp(v, pw) == 0;

	free(v);
	return eq;
}

static void wait_secret(const char *ns, const char *pw, int timeout_ms)
{
	int64_t t0 = now_ms();

	while (!secret_is(ns, pw)) {
		ck_assert_msg(now_ms() - t0 < timeout_ms, "Secret never got the new value");
		sleep_ms(100);
	}
}

/* wait_pam_request - until PAM has been asked for the vault more than
 * `before` times: a job is then in flight (held by a latency fault). */
static void wait_pam_request(long before)
{
	int64_t t0 = now_ms();

	while (pamsim_count(&pam, V_USER) <= before) {
		ck_assert_msg(now_ms() - t0 < 8000, "no job reached PAM");
		sleep_ms(50);
	}
}

/* writes_besides_lease - requests of m that changed anything but the Lease. */
static double writes_besides_lease(const struct manager *m)
{
	double v = prom(m, "pamop_kube_requests_total", "verb~POST|PUT|PATCH|DELETE "
	    "resource!=leases");
	return v < 0 ? 0 : v;
}

static void check_logs(const struct manager *m)
{
	static const char *const secrets[] = { KEY, PW1, PW2, NULL };

	assert_file_lacks(m->log, secrets);
}

START_TEST(follower_writes_nothing_and_sigterm_hands_over)
{
	char *ns = ns_new("leader-term");
	struct manager a, b;
	int64_t t0, exit_ms, handover_ms;

	char *ida = first_leader(ns, &a);
	replica(&b);
	char *idb = identity_of(&b);
	ck_assert_str_ne(ida, idb);

	deployment_reloading(ns, "web", "db-k8s");
	msec_one(ns, "db", "db-k8s", "1h", "password", V_USER, "Password");
	wait_ready(ns, "msec", "db", "True/Synced", 10000);
	ck_assert(secret_is(ns, PW1));
	long g0 = generation_of(ns, "web");
	sleep_ms(2 * RETRY_MS);   /* the follower has had its turns to do wrong */

	ck_assert(prom(&a, "pamop_leader", "") == 1);
	ck_assert(prom(&b, "pamop_leader", "") == 0);
	ck_assert_msg(prom(&a, "pamop_kube_requests_total", "verb=POST resource=secrets") >= 1,
	    "the leader's worker wrote no Secret");
	ck_assert(writes_besides_lease(&a) >= 3);
	ck_assert_msg(writes_besides_lease(&b) == 0, "the follower wrote %g times",
	    writes_besides_lease(&b));
	ck_assert(prom(&b, "pamop_reconcile_total", "") == 0);
	ck_assert_int_eq(log_count(&b, "became leader", NULL), 0);

	/* a job in flight at SIGTERM: PAM holds it longer than the drain */
	pamsim_fault(&pam, "{\"latencyMs\":8000,\"vault\":\"" V_USER "\"}");
	set_password(PW2);
	long asked = pamsim_count(&pam, V_USER);
	ck_assert_int_eq(sh("kubectl -n %s patch msec db --type=merge "
	    "-p '{\"spec\":{\"refreshInterval\":\"59m\"}}' >/dev/null", ns), 0);
	wait_pam_request(asked);

	t0 = now_ms();
	exit_ms = manager_stop(&a);
	fprintf(stderr, "leader exited %lld ms after SIGTERM with a job in flight\n",
	    (long long)exit_ms);
	ck_assert_msg(exit_ms < 10000, "SIGTERM took %lld ms", (long long)exit_ms);
	char *h = lease_holder(LEASE_NS, LEASE);
	ck_assert_msg(strcmp(h, ida) != 0, "the Lease still names the old leader");
	ck_assert_int_eq(log_count(&a, "released the leader lease", NULL), 1);
	sh("curl -sf -X POST http://127.0.0.1:%d/fault/clear >/dev/null", pam.admin_port);

	prom_wait(&b, "pamop_leader", "", 1, 3 * RETRY_MS);
	handover_ms = now_ms() - t0;
	fprintf(stderr, "standby leads %lld ms after SIGTERM (exit %lld ms + its retry)\n",
	    (long long)handover_ms, (long long)exit_ms);
	ck_assert(handover_ms <= exit_ms + RETRY_MS + 1000);
	wait_holder(idb, 1000);

	wait_secret(ns, PW2, 15000);
	wait_ready(ns, "msec", "db", "True/Synced", 5000);
	sleep_ms(1500);
	ck_assert_int_eq(generation_of(ns, "web"), g0 + 1);   /* one change, one restart */

	manager_stop(&b);
	check_logs(&a);
	check_logs(&b);
	free(h); free(ida); free(idb);
	ns_delete(ns);
	free(ns);
}
END_TEST

START_TEST(killed_leader_hands_over_within_the_lease_and_restarts_once)
{
	char *ns = ns_new("leader-kill");
	struct manager a, b;

	set_password(PW1);
	char *ida = first_leader(ns, &a);
	replica(&b);

	deployment_reloading(ns, "web", "db-k8s");
	msec_one(ns, "db", "db-k8s", "3s", "password", V_USER, "Password");
	wait_ready(ns, "msec", "db", "True/Synced", 10000);
	wait_secret(ns, PW1, 1000);
	long g0 = generation_of(ns, "web");

	/* the next refresh finds a new value but is held in PAM: kill then */
	pamsim_fault(&pam, "{\"latencyMs\":6000,\"vault\":\"" V_USER "\"}");
	set_password(PW2);
	wait_pam_request(pamsim_count(&pam, V_USER));
	sleep_ms(200);
	ck_assert(secret_is(ns, PW1));
	int64_t t0 = now_ms();
	ck_assert_int_eq(kill(a.pid, SIGKILL), 0);
	waitpid(a.pid, NULL, 0);
	a.pid = 0;
	sh("curl -sf -X POST http://127.0.0.1:%d/fault/clear >/dev/null", pam.admin_port);

	/* Expiry is judged from when the standby saw the last renewal, which
	 * it polls for every retry period: at most lease + 2 retries. */
	prom_wait(&b, "pamop_leader", "", 1, LEASE_MS + 3 * RETRY_MS + 2000);
	int64_t handover = now_ms() - t0;
	fprintf(stderr, "standby leads %lld ms after kill -9 of the leader (lease %d ms)\n",
	    (long long)handover, LEASE_MS);
	ck_assert_msg(handover >= LEASE_MS - 2 * RETRY_MS,
	    "took over after %lld ms: before the old lease could have expired",
	    (long long)handover);
	ck_assert(handover <= LEASE_MS + 2 * RETRY_MS + 1000);

	wait_secret(ns, PW2, 10000);
	sleep_ms(4000);   /* more refreshes, same data */
	ck_assert_int_eq(generation_of(ns, "web"), g0 + 1);
	wait_ready(ns, "msec", "db", "True/Synced", 1000);
	double ro = prom(&b, "pamop_rollouts_total", "result=success");
	ck_assert_msg(ro == 1, "the new leader counted %g restarts", ro);

	manager_stop(&b);
	check_logs(&a);
	check_logs(&b);
	free(ida);
	ns_delete(ns);
	free(ns);
}
END_TEST

START_TEST(leader_that_cannot_renew_stops_everything)
{
	char *ns = ns_new("leader-lost");
	struct manager a;
	int status = 0;

	char *ida = first_leader(ns, &a);
	msec_one(ns, "db", "db-k8s", "1h", "password", V_USER, "Password");
	wait_ready(ns, "msec", "db", "True/Synced", 10000);
	pid_t workers[4];
	ck_assert_int_eq(worker_pids(&a, workers, 4), 1);

	/* another holder writes the Lease: renewals fail from now on */
	int64_t t0 = now_ms();
	ck_assert_int_eq(sh("kubectl -n " LEASE_NS " patch lease " LEASE " --type=merge -p "
	    "'{\"spec\":{\"holderIdentity\":\"someone-else\",\"renewTime\":"
	    "\"2030-01-01T00:00:00.000000Z\"}}' >/dev/null"), 0);
	while (waitpid(a.pid, &status, WNOHANG) == 0) {
		ck_assert_msg(now_ms() - t0 < 10000 + 2 * RETRY_MS + 3000,
		    "still running after the renew deadline");
		sleep_ms(50);
	}
	int64_t took = now_ms() - t0;
	a.pid = 0;
	fprintf(stderr, "leader stopped %lld ms after its lease was taken (deadline 10 s)\n",
	    (long long)took);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	ck_assert_int_eq(log_count(&a, "lease", "stopping", NULL), 1);
	ck_assert_int_eq(log_count(&a, "cause=\"lease lost\"", NULL), 1);
	ck_assert_msg(kill(workers[0], 0) != 0, "a worker outlived its lost lease");
	/* and it did not hand back a lease that was not its own */
	char *h = lease_holder(LEASE_NS, LEASE);
	ck_assert_str_eq(h, "someone-else");
	check_logs(&a);
	lease_reset();
	free(h);
	free(ida);
	ns_delete(ns);
	free(ns);
}
END_TEST

Suite *leader_suite(void)
{
	Suite *s = suite_create("leader");
	TCase *tc = tcase_create("leader");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, follower_writes_nothing_and_sigterm_hands_over);
	tcase_add_test(tc, killed_leader_hands_over_within_the_lease_and_restarts_once);
	tcase_add_test(tc, leader_that_cannot_renew_stops_everything);
	suite_add_tcase(s, tc);
	return s;
}
