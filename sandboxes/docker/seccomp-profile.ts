/**
 * warden's own seccomp profile, applied to every tool container (issue 17,
 * items 8 and 9). An allowlist in the format Docker's daemon loads
 * (`SecurityOpt: ["seccomp=<json>"]`), modelled on what Docker 20.10's default
 * profile allows an UNPRIVILEGED container — warden drops every capability, so
 * none of the default's capability-gated rules ever applied — minus what a
 * tool never needs and an attacker would use:
 *
 * - io_uring_setup / io_uring_enter / io_uring_register: reachable under
 *   Docker 20.10's default (io_uring_setup returned an fd in the hostile
 *   review); a large, fast-moving kernel attack surface no tool needs.
 * - memfd_create / memfd_secret: memfd_create + execve ran a downloaded binary
 *   despite the noexec mounts. Blocking it closes that path; it does not make
 *   noexec a boundary (see docs/threat-model.md: an interpreter runs code
 *   from anywhere, and anonymous executable memory still exists).
 * - ptrace / process_vm_readv / process_vm_writev: the default allows them on
 *   kernels ≥ 4.8; a tool has no other process worth reading.
 * - userfaultfd, bpf, perf_event_open, keyctl, add_key, request_key, mount,
 *   unshare, setns, …: never listed, so refused (EPERM).
 *
 * clone3 answers ENOSYS (not EPERM) so glibc falls back to clone, whose flags
 * are checked: no new namespaces.
 */

/** Syscalls every tool may make. Sorted by concern; unknown names are skipped by the daemon's libseccomp. */
const ALLOWED: readonly string[] = [
  // files and directories
  "access", "faccessat", "faccessat2", "open", "openat", "openat2", "creat", "close", "close_range",
  "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev", "pwritev2",
  "lseek", "_llseek", "stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat64", "newfstatat", "statx",
  "statfs", "statfs64", "fstatfs", "fstatfs64", "getdents", "getdents64", "getcwd", "chdir", "fchdir",
  "mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2", "link", "linkat", "unlink", "unlinkat",
  "symlink", "symlinkat", "readlink", "readlinkat", "chmod", "fchmod", "fchmodat", "chown", "chown32",
  "fchown", "fchown32", "fchownat", "lchown", "lchown32", "umask", "truncate", "truncate64", "ftruncate",
  "ftruncate64", "fallocate", "fadvise64", "fadvise64_64", "readahead", "fsync", "fdatasync", "sync",
  "syncfs", "sync_file_range", "flock", "fcntl", "fcntl64", "dup", "dup2", "dup3", "pipe", "pipe2",
  "copy_file_range", "sendfile", "sendfile64", "splice", "tee", "vmsplice", "utime", "utimes", "utimensat",
  "utimensat_time64", "futimesat", "mknod", "mknodat", "name_to_handle_at",
  "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "setxattr", "lsetxattr",
  "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
  "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
  // memory
  "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock", "mlock2",
  "munlock", "mlockall", "munlockall", "membarrier", "remap_file_pages", "pkey_alloc", "pkey_free", "pkey_mprotect",
  // processes, threads, signals
  "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid", "waitpid",
  "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
  "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
  "getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32",
  "setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32", "setregid", "setregid32",
  "setresuid", "setresuid32", "setresgid", "setresgid32", "setgroups", "setgroups32",
  "setfsuid", "setfsuid32", "setfsgid", "setfsgid32", "capget", "capset", "prctl",
  "kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal", "rt_sigaction", "rt_sigprocmask",
  "rt_sigpending", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
  "rt_sigtimedwait", "rt_sigtimedwait_time64", "sigaltstack", "sigprocmask", "sigreturn",
  "signalfd", "signalfd4", "pause", "restart_syscall", "futex", "futex_time64", "futex_waitv",
  "set_robust_list", "get_robust_list", "set_tid_address", "set_thread_area", "get_thread_area", "rseq",
  "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "getpriority", "setpriority",
  "ioprio_get", "ioprio_set", "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr",
  "sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
  "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "sched_rr_get_interval_time64",
  "getcpu", "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
  // time
  "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64", "clock_nanosleep",
  "clock_nanosleep_time64", "nanosleep", "gettimeofday", "time", "times", "alarm", "getitimer", "setitimer",
  "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
  "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
  "timerfd_settime64", "adjtimex", "clock_adjtime", "clock_adjtime64",
  // polling and events
  "poll", "ppoll", "ppoll_time64", "select", "_newselect", "pselect6", "pselect6_time64",
  "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait", "epoll_wait_old",
  "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
  // sockets (socket itself is below, with its family checked)
  "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername",
  "getsockopt", "setsockopt", "shutdown", "send", "sendto", "sendmsg", "sendmmsg", "recv", "recvfrom",
  "recvmsg", "recvmmsg", "recvmmsg_time64", "socketcall",
  // System V / POSIX IPC (inside the container's private IPC namespace)
  "ipc", "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semctl", "semtimedop", "semtimedop_time64",
  "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64",
  "mq_timedreceive", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
  // legacy async I/O (not io_uring)
  "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
  // misc
  "ioctl", "uname", "sysinfo", "getrandom",
];

/** Refused on purpose although Docker 20.10's default allows them (kept here so a test can name them). */
export const BLOCKED_BEYOND_DOCKER_DEFAULT: readonly string[] = [
  "io_uring_setup", "io_uring_enter", "io_uring_register",
  "memfd_create", "memfd_secret",
  "ptrace", "process_vm_readv", "process_vm_writev",
];

/** Namespace-creating clone flags (CLONE_NEWNS … CLONE_NEWNET, CLONE_NEWCGROUP): none may be set. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const AF_VSOCK = 40;
/** PER_LINUX, PER_LINUX32, UNAME26 variants, and the query value 0xffffffff. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];
const ENOSYS = 38;

interface SeccompRule {
  names: string[];
  action: "SCMP_ACT_ALLOW" | "SCMP_ACT_ERRNO";
  errnoRet?: number;
  args?: Array<{ index: number; value: number; valueTwo?: number; op: string }>;
  includes?: { arches?: string[] };
  excludes?: { arches?: string[] };
}

function build(): { defaultAction: string; archMap: unknown[]; syscalls: SeccompRule[] } {
  const blocked = new Set(BLOCKED_BEYOND_DOCKER_DEFAULT);
  const names = ALLOWED.filter((n) => !blocked.has(n));
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    archMap: [
      { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
      { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
    ],
    syscalls: [
      { names, action: "SCMP_ACT_ALLOW" },
      // No AF_VSOCK: a path to the hypervisor's host, never to an allowed web service.
      { names: ["socket"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: AF_VSOCK, op: "SCMP_CMP_NE" }] },
      ...PERSONALITIES.map((value): SeccompRule => ({ names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value, op: "SCMP_CMP_EQ" }] })),
      { names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] },
      { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
      { names: ["arch_prctl", "modify_ldt"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64", "x32", "x86"] } },
      { names: ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"], action: "SCMP_ACT_ALLOW", includes: { arches: ["arm", "arm64"] } },
    ],
  };
}

/** The profile as the JSON text `SecurityOpt: ["seccomp=…"]` carries (computed once). */
export const SECCOMP_PROFILE_JSON = JSON.stringify(build());
