/*
 * sandbox.c - the worker's sandbox, entered once, in this order:
 *   1. resource limits: no core files
 *   2. not dumpable (no ptrace by peers, no /proc/pid/mem, no core)
 *   3. every capability dropped (effective, permitted, inheritable)
 *   4. no_new_privs, which also lets an unprivileged process use seccomp
 *   5. a seccomp allow-list, synchronised onto every thread (nng already
 *      runs its own), that kills the whole process on anything else.
 * Opening files is answered with EACCES rather than death: libraries
 * probe optional files (locale, gconv) and should fail softly, but the
 * worker still cannot read anything new. Threads may be created (libcurl
 * resolves names in a thread); processes may not.
 */
#include "sandbox.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"

/* Syscalls the worker, glibc, libcurl, OpenSSL, nng and libsodium use
 * once running. Grouped by purpose; unusual ones carry a reason. */
static const int allowed[] = {
	/* memory */
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect),
	SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(mlock), SCMP_SYS(munlock),       /* sodium_malloc locks pages */
	/* threads and time */
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(gettid),
	SCMP_SYS(getpid), SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(restart_syscall),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(getrandom),                      /* OpenSSL and libsodium */
	SCMP_SYS(prlimit64),                      /* glibc sizes thread stacks */
	/* descriptors already open, and sockets */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
	SCMP_SYS(fcntl), SCMP_SYS(ioctl), SCMP_SYS(dup), SCMP_SYS(dup3),
	SCMP_SYS(pipe2), SCMP_SYS(eventfd2),
	SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(socketpair),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername), SCMP_SYS(shutdown), SCMP_SYS(bind), /* DNS over UDP */
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(uname), SCMP_SYS(sysinfo),
};

/* Asked for a file: refuse softly (see the file comment). */
static const int refused[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(access), SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2), SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(statx),
	SCMP_SYS(readlink),
};

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[96];
	int n;

	(void)sig; (void)uc;
	n = snprintf(line, sizeof(line), "level=error component=worker msg=\"sandbox "
	    "violation\" syscall=%d\n", si->si_syscall);
	if (n > 0)
		(void)!write(STDERR_FILENO, line, (size_t)n);
	_exit(159);
}

static int limits(void)
{
	struct rlimit zero = { 0, 0 };

	/* RLIMIT_NPROC would also stop threads, and RLIMIT_FSIZE would kill
	 * us for logging to a file-backed stderr; the seccomp rules below
	 * are what forbid new processes and new files. */
	return setrlimit(RLIMIT_CORE, &zero);
}

static int drop_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL && errno != EPERM)
			return -1;
	return (int)syscall(SYS_capset, &h, d);
}

static int filter(int debug)
{
	scmp_filter_ctx ctx = seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	int rc = 0;

	if (ctx == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), refused[i], 0);
	/* clone: threads only. clone3 hides its flags in memory the filter
	 * cannot read, so it says ENOSYS and glibc falls back to clone. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* prctl: only naming a thread (nng names the threads it starts). */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
	    SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	rc |= seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

int sandbox_enter(const char *mode)
{
	int debug = strcmp(mode, "debug") == 0;

	if (strcmp(mode, "off") == 0) {
		log_kv(LOG_WARN, "sandbox disabled (--sandbox=off): development only", NULL);
		return 0;
	}
	if (!debug && strcmp(mode, "on") != 0)
		return -1;
	if (debug) {
		struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
		sigaction(SIGSYS, &sa, NULL);
	}
	if (limits() != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || drop_caps() != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || filter(debug) != 0)
		return -1;
	return 0;
}

void sandbox_test_violation(void)
{
	/* A new process is the first thing an attacker would want. */
	syscall(SYS_fork);
}
