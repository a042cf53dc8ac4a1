// deckhand-pause: holds a pod's namespaces. It applies the sandbox's hostname
// and sysctls inside them, brings the loopback interface up, says it is ready, then sleeps until SIGTERM or
// SIGINT. As PID 1 of a pod PID namespace it reaps orphaned zombies.
//
// Plain libc only: one of these runs per pod, so it must stay a few pages of
// memory (no iostream, no allocation after start-up).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

[[noreturn]] void die(const char* what, const char* arg) {
  int e = errno;
  dprintf(2, "deckhand-pause: %s %s: %s\n", what, arg, strerror(e));
  _exit(1);
}

[[noreturn]] void usage(const char* msg) {
  dprintf(2, "deckhand-pause: %s\nusage: deckhand-pause [--hostname NAME] [--sysctl KEY=VALUE]... [--loopback up] [--join-cgroup PROCS_FILE]... [--ready-fd N]\n",
          msg);
  _exit(2);
}

// A new network namespace starts with lo down; pods expect 127.0.0.1 to work.
// Doing it here saves running the loopback CNI plugin for every pod.
void loopback_up() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket for", "lo");
  struct ifreq ifr {};
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) die("get flags of", "lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) die("bring up", "lo");
  close(s);
}

// Joins the cgroups after saying ready (see PauseSpec::join_after_ready). A
// failure is not fatal: the pod works, its stats only miss pause's few pages.
void join_cgroups(char** files, int n) {
  for (int i = 0; i < n; ++i) {
    int fd = open(files[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t written = write(fd, "0", 1);
    (void)written;
    close(fd);
  }
}

void set_hostname(const char* name) {
  if (sethostname(name, strlen(name)) != 0) die("set hostname", name);
}

// "net.ipv4.ip_forward=1" -> writes "1" to /proc/sys/net/ipv4/ip_forward.
// /proc/sys/net and the IPC sysctls show the namespaces of the writer, which
// is why pause applies them itself instead of deckhand-cri.
void write_sysctl(const char* assignment) {
  const char* eq = strchr(assignment, '=');
  if (!eq || eq == assignment) usage("--sysctl wants KEY=VALUE");
  char path[512];
  size_t key_len = static_cast<size_t>(eq - assignment);
  if (key_len + sizeof "/proc/sys/" > sizeof path) usage("--sysctl key too long");
  memcpy(path, "/proc/sys/", 10);
  for (size_t i = 0; i < key_len; ++i) path[10 + i] = assignment[i] == '.' ? '/' : assignment[i];
  path[10 + key_len] = '\0';
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("open sysctl", path);
  const char* value = eq + 1;
  ssize_t n = write(fd, value, strlen(value));
  if (n < 0) die("write sysctl", path);
  close(fd);
}

// After start-up nothing is written anymore; the caller's pipes must not be
// held open for the life of the pod.
void detach_stdio() {
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) die("open", "/dev/null");
  for (int fd = 0; fd < 3; ++fd) dup2(null, fd);
  close(null);
}

void signal_ready(int fd) {
  if (fd < 0) return;
  char byte = 'R';
  while (write(fd, &byte, 1) < 0 && errno == EINTR) {
  }
  close(fd);
}

void reap_children() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

void empty_handler(int) {}

}  // namespace

int main(int argc, char** argv) {
  int ready_fd = -1;
  char* join[64];
  int joins = 0;
  // Block first: a SIGTERM arriving during setup is then handled by the loop below.
  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGINT);
  sigaddset(&wanted, SIGCHLD);
  sigprocmask(SIG_BLOCK, &wanted, nullptr);
  // A PID 1 drops signals whose action is the default; real handlers make sure
  // SIGTERM from inside the pod's PID namespace still counts.
  struct sigaction sa {};
  sa.sa_handler = empty_handler;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGCHLD, &sa, nullptr);

  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (i + 1 >= argc) usage("missing value");
    const char* v = argv[++i];
    if (strcmp(a, "--hostname") == 0)
      set_hostname(v);
    else if (strcmp(a, "--sysctl") == 0)
      write_sysctl(v);
    else if (strcmp(a, "--loopback") == 0 && strcmp(v, "up") == 0)
      loopback_up();
    else if (strcmp(a, "--join-cgroup") == 0 && joins < 64)
      join[joins++] = const_cast<char*>(v);
    else if (strcmp(a, "--ready-fd") == 0)
      ready_fd = atoi(v);
    else
      usage("unknown argument");
  }
  if (chdir("/") != 0) die("chdir", "/");
  detach_stdio();
  signal_ready(ready_fd);
  join_cgroups(join, joins);

  for (;;) {
    int sig = sigwaitinfo(&wanted, nullptr);
    if (sig == SIGTERM || sig == SIGINT) return 0;
    if (sig == SIGCHLD) reap_children();
  }
}
