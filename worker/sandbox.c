/*
 * sandbox.c - the worker's sandbox, entered once, in this order:
 *   1. resource limits: no core files; no file growth when no standard
 *      descriptor is a regular file (see limits())
 *   2. not dumpable (no ptrace by peers, no /proc/pid/mem, no core)
 *   3. every capability dropped (effective, permitted, inheritable,
 *      ambient, and the bounding set when we may)
 *   4. no_new_privs, which also lets an unprivileged process use seccomp
 *   5. a seccomp allow-list, synchronised onto every thread (nng already
 *      runs its own), that kills the whole process on anything else.
 * Opening files is answered with EACCES rather than death: libraries
 * probe optional files (locale, gconv, OpenSSL modules) and should fail
 * softly, but the worker still cannot read anything new. Threads may be
 * created; processes may not. Names are not resolved here at all: the
 * supervisor sends addresses with each job (supervisor/resolve.c).
 */
#include "sandbox.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"

/* Syscalls the worker, glibc, libcurl, OpenSSL, nng and libsodium use
 * once running, with no argument worth checking. Grouped by purpose;
 * unusual ones carry a reason. */
static const int allowed[] = {
	/* memory (mmap and mprotect: see no_exec()) */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
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
	/* descriptors already open, and sockets (socket: see inet_only()) */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
	SCMP_SYS(fcntl), SCMP_SYS(dup), SCMP_SYS(dup3), SCMP_SYS(pipe2),
	SCMP_SYS(eventfd2), SCMP_SYS(connect), SCMP_SYS(socketpair),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername), SCMP_SYS(shutdown),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(uname), SCMP_SYS(sysinfo),
};

/* Argument conditions below spell out the unused second datum: clang's
 * -Wmissing-field-initializers objects to libseccomp's short form. */

/* Asked for a file: refuse softly (see the file comment). */
static const int refused[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(creat),
	SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(statx), SCMP_SYS(readlink),
	SCMP_SYS(readlinkat),
};

static bool fsize_limited;
static char *names[512];   /* debug mode: syscall names, looked up before the filter */

/* put_str, put_num - async-signal-safe pieces of the debug line. */
static size_t put_str(char *b, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		b[at++] = *s++;
	return at;
}

static size_t put_num(char *b, size_t at, size_t cap, long v)
{
	char d[24];
	int n = 0;

	if (v < 0) {
		at = put_str(b, at, cap, "-");
		v = -v;
	}
	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0 && n < (int)sizeof(d));
	while (n > 0 && at + 1 < cap)
		b[at++] = d[--n];
	return at;
}

/* on_sigsys - debug mode: name the syscall on stderr, then die by SIGSYS
 * as "on" mode would, so the supervisor sees the same cause. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t set;
	char line[160];
	size_t n = 0;
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < (int)(sizeof(names) / sizeof(names[0])) &&
	    names[nr] ? names[nr] : "unknown";

	(void)uc;
	n = put_str(line, n, sizeof(line), "level=error component=worker msg=\"sandbox "
	    "violation\" syscall=");
	n = put_str(line, n, sizeof(line), name);
	n = put_str(line, n, sizeof(line), " nr=");
	n = put_num(line, n, sizeof(line), nr);
	n = put_str(line, n, sizeof(line), "\n");
	(void)!write(STDERR_FILENO, line, n);

	sigaction(sig, &dfl, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
	_exit(159);   /* NOTREACHED unless the signal was somehow not fatal */
}

/* limits - no core files. RLIMIT_FSIZE=0 would also stop a write to a
 * regular file, and SIGXFSZ would kill us for logging when stderr is a
 * file (a developer's shell, the test harness); in a pod stdout and
 * stderr are pipes. So the limit is set only when no standard
 * descriptor is a regular file; either way the filter refuses opening
 * or creating files, and truncate/fallocate/rename/link are not on the
 * list, so the only file the worker can grow is the log it was given.
 * RLIMIT_NPROC is not used: it counts threads too; the clone rule is
 * what forbids new processes. */
static int limits(void)
{
	struct rlimit zero = { 0, 0 };
	bool file = false;
	struct stat st;

	for (int fd = 0; fd <= 2; fd++)
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			file = true;
	if (setrlimit(RLIMIT_CORE, &zero) != 0)
		return -1;
	fsize_limited = !file;
	return file ? 0 : setrlimit(RLIMIT_FSIZE, &zero);
}

/* drop_caps - the bounding set first (needs CAP_SETPCAP, which an
 * unprivileged worker does not have and does not need: no_new_privs
 * keeps it from ever gaining a capability), then the ambient set, then
 * the three sets of this process. */
static int drop_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL && errno != EPERM)
			return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		return -1;
	return (int)syscall(SYS_capset, &h, d);
}

/* inet_only - socket() for TCP/IP and the unix socket only: no netlink,
 * no packet sockets. */
static int inet_only(scmp_filter_ctx ctx)
{
	static const int fam[] = { AF_UNIX, AF_INET, AF_INET6 };
	int rc = 0;

	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fam[i], 0));
	return rc;
}

/* no_exec - mmap and mprotect, never making memory executable: the
 * code the worker runs is what was loaded before the filter. */
static int no_exec(scmp_filter_ctx ctx)
{
	int rc = 0;

	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	return rc;
}

/* threads_only - clone only with CLONE_THREAD. clone3 hides its flags
 * in memory the filter cannot read, so it says ENOSYS and glibc falls
 * back to clone. */
static int threads_only(scmp_filter_ctx ctx)
{
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));

	return rc | seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

/* tty_queries - ioctl only to ask, never to act: isatty (TCGETS) for
 * stdio buffering, FIONREAD and FIONBIO for sockets. No TIOCSTI, which
 * could type commands into a terminal the worker's stderr points at. */
static int tty_queries(scmp_filter_ctx ctx)
{
	static const unsigned long req[] = { TCGETS, FIONREAD, FIONBIO };
	int rc = 0;

	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)req[i], 0));
	return rc;
}

/* thread_names - prctl only to name a thread (nng names the threads it
 * starts). */
static int thread_names(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
	    SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME, 0));
}

/* debug_self_kill - debug mode: the SIGSYS handler may send SIGSYS to
 * its own process, and nothing else. */
static int debug_self_kill(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0),
	    SCMP_A2(SCMP_CMP_EQ, SIGSYS, 0));
}

static int filter(bool debug)
{
	scmp_filter_ctx ctx = seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	int rc = 0;

	if (ctx == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), refused[i], 0);
	rc |= inet_only(ctx) | no_exec(ctx) | threads_only(ctx) | tty_queries(ctx) |
	    thread_names(ctx);
	if (debug)
		rc |= debug_self_kill(ctx);
	rc |= seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

/* debug_names - look every syscall name up while we still may allocate,
 * so the SIGSYS handler only reads a table. */
static void debug_names(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	for (int nr = 0; nr < (int)(sizeof(names) / sizeof(names[0])); nr++)
		if (names[nr] == NULL)
			names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	sigaction(SIGSYS, &sa, NULL);
}

int sandbox_enter(const char *mode)
{
	bool debug = strcmp(mode, "debug") == 0;

	if (strcmp(mode, "off") == 0) {
		log_kv(LOG_WARN, "sandbox disabled (--sandbox=off): development only", NULL);
		return 0;
	}
	if (!debug && strcmp(mode, "on") != 0)
		return -1;
	if (debug)
		debug_names();

	if (limits() != 0)
		return -1;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -1;
	if (drop_caps() != 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return filter(debug) != 0 ? -1 : 0;
}

bool sandbox_fsize_limited(void)
{
	return fsize_limited;
}

void sandbox_test_violation(void)
{
	/* A new process is the first thing an attacker would want. With
	 * the sandbox off it is allowed: the child leaves at once. */
	if (syscall(SYS_fork) == 0)
		_exit(0);
}
