/*
 * The bench's datagram sender and ban-latency prober (test/bench/run.ts
 * compiles it with gcc into a temp folder). Written in C so that, on a
 * 2-core machine, the sender is never the bottleneck of what is measured.
 *
 *   sender send  --socket PATH (--file FILE | --gen v4|v6 --count N [--start K] --template T)
 *                [--rate LINES_PER_S] [--duration S] [--loop]
 *                [--sentinel LINE --sentinel-addr A --sentinel-list PATH] [--timeout S]
 *       Sends every line of FILE (or N generated lines: T with "{ip}" replaced
 *       by the K-th, K+1-th ... address) as one datagram each, on a blocking
 *       socket: when the receiver's queue is full, send() sleeps until there
 *       is room, as rsyslog's omuxsock does. --rate paces the lines (bursts
 *       every 200 us); --loop starts the file over until --duration.
 *       With --sentinel: the list file is cleared ("/"), then, after the last
 *       line, the sentinel line is sent and the list is polled until
 *       "src=A " shows in it: the moment the receiver has decided on every
 *       line before it.
 *       Prints one JSON object: lines sent, ns spent sending, ns until the
 *       sentinel showed (or -1).
 *
 *   sender probe --socket PATH --list PATH --count N --template T [--start K] [--gap-us G]
 *       Ban latency: for each of N fresh addresses, sends T with the
 *       address, then reads the list until "src=ADDR " shows (spinning for
 *       the first 200 us, then every 20 us), and records the time from just
 *       before send() to that read. Then writes "-ADDR" to keep the list
 *       short, and waits G us (default 3000). Prints {"lat_ns":[...]}.
 *
 *   sender sink --socket PATH --sentinel-len L --list PATH
 *       A receive loop in C: binds PATH, receives datagrams into a 64 KiB
 *       buffer one recv() at a time and drops them; a datagram of length L
 *       that holds "banban-bench[" is the sentinel, and "+ADDR" (the text
 *       after its last " from ") is written to the list. Shows what the
 *       machine and the sender manage with no JavaScript at all. With
 *       --sentinel-len 0 every datagram that holds "banban-bench[" is
 *       acted on: the latency figure's floor, the probes answered in C.
 *
 * Addresses generated: v4 = 10.a.b.c from index K (10.0.0.0/8, 16.7 M),
 * v6 = 2001:db8:X:Y::1 (documentation prefix). Only text: no packet is sent
 * to any address.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t t) {
  struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

static void sleep_ns(int64_t ns) { sleep_until(now_ns() + ns); }

static void die(const char *what) {
  fprintf(stderr, "sender: %s: %s\n", what, strerror(errno));
  exit(2);
}

static int open_socket(const char *path, double timeout_s) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sa.sun_path) {
    fprintf(stderr, "sender: socket path too long\n");
    exit(2);
  }
  strcpy(sa.sun_path, path);
  int64_t deadline = now_ns() + (int64_t)(timeout_s * 1e9);
  /* The receiver may still be starting: retry until it has bound the path. */
  while (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    if ((errno != ENOENT && errno != ECONNREFUSED) || now_ns() > deadline) die("connect");
    sleep_ns(5000000);
  }
  int sndbuf = 4 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  return fd;
}

static void send_one(int fd, const char *p, size_t n) {
  for (;;) {
    ssize_t r = send(fd, p, n, 0);
    if (r >= 0) return;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == ENOBUFS) { /* not expected on a blocking socket; back off a little */
      sleep_ns(20000);
      continue;
    }
    die("send");
  }
}

/* ---- lines: a file's, or generated --------------------------------------- */

typedef struct {
  const char *base;
  size_t *off;
  size_t *len;
  size_t n;
} Lines;

static Lines load_file(const char *file) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(file);
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  size_t size = (size_t)st.st_size;
  const char *p = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : "";
  if (p == MAP_FAILED) die("mmap");
  close(fd);
  size_t cap = 1024, n = 0;
  Lines l = {p, malloc(cap * sizeof(size_t)), malloc(cap * sizeof(size_t)), 0};
  size_t start = 0;
  for (size_t i = 0; i <= size; i++) {
    if (i == size || p[i] == '\n') {
      if (i > start) {
        if (n == cap) {
          cap *= 2;
          l.off = realloc(l.off, cap * sizeof(size_t));
          l.len = realloc(l.len, cap * sizeof(size_t));
        }
        l.off[n] = start;
        l.len[n] = i - start;
        n++;
      }
      start = i + 1;
    }
  }
  l.n = n;
  return l;
}

static int format_addr(char *out, const char *kind, uint64_t k) {
  if (strcmp(kind, "v4") == 0) return sprintf(out, "10.%u.%u.%u", (unsigned)((k >> 16) & 255), (unsigned)((k >> 8) & 255), (unsigned)(k & 255));
  return sprintf(out, "2001:db8:%x:%x::1", (unsigned)((k >> 16) & 0xffff), (unsigned)(k & 0xffff));
}

typedef struct {
  const char *pre;
  size_t prelen;
  const char *post;
} Template;

static Template parse_template(const char *t) {
  const char *at = strstr(t, "{ip}");
  if (!at) {
    fprintf(stderr, "sender: template has no {ip}\n");
    exit(2);
  }
  Template r = {t, (size_t)(at - t), at + 4};
  return r;
}

static size_t fill(char *buf, const Template *t, const char *addr) {
  memcpy(buf, t->pre, t->prelen);
  size_t n = t->prelen;
  size_t a = strlen(addr);
  memcpy(buf + n, addr, a);
  n += a;
  size_t b = strlen(t->post);
  memcpy(buf + n, t->post, b);
  return n + b;
}

/* ---- the kernel list ------------------------------------------------------ */

static char listbuf[1 << 20];

/* 1 when "src=ADDR " is in the list file, 0 when not, -1 on error */
static int list_has(const char *list, const char *needle) {
  int fd = open(list, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, listbuf + n, sizeof listbuf - 1 - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return -1;
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n >= sizeof listbuf - 1) break;
  }
  close(fd);
  listbuf[n] = 0;
  return strstr(listbuf, needle) != NULL;
}

static void list_write(const char *list, const char *cmd) {
  int fd = open(list, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die(list);
  if (write(fd, cmd, strlen(cmd)) < 0) die("write list");
  close(fd);
}

/* Polls until "src=ADDR " is listed; returns the time it showed, or -1 at the deadline. */
static int64_t wait_listed(const char *list, const char *addr, int64_t since, int64_t deadline) {
  char needle[128];
  snprintf(needle, sizeof needle, "src=%s ", addr);
  for (;;) {
    int r = list_has(list, needle);
    int64_t t = now_ns();
    if (r < 0) die(list);
    if (r == 1) return t;
    if (t > deadline) return -1;
    if (t - since > 200000) sleep_ns(20000);
  }
}

/* ---- the C receive loop ----------------------------------------------------- */

static __attribute__((noreturn)) int sink(const char *path, int sentinel_len, const char *list) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
  unlink(path);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) die("bind");
  static char buf[65536];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("recv");
    }
    if ((sentinel_len != 0 && n != sentinel_len) || !list) continue;
    buf[n] = 0;
    if (!strstr(buf, "banban-bench[")) continue;
    char *from = NULL;
    for (char *p = strstr(buf, " from "); p; p = strstr(p + 1, " from ")) from = p;
    if (!from) continue;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "+%s\n", from + 6);
    list_write(list, cmd);
  }
}

/* ---- main ------------------------------------------------------------------ */

static const char *opt(int argc, char **argv, const char *name, const char *def) {
  for (int i = 2; i < argc - 1; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

static int flag(int argc, char **argv, const char *name) {
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: sender send|probe ... (see the comment at the top of sender.c)\n");
    return 64;
  }
  const char *sockpath = opt(argc, argv, "--socket", NULL);
  if (!sockpath) {
    fprintf(stderr, "sender: --socket is required\n");
    return 64;
  }
  double timeout_s = atof(opt(argc, argv, "--timeout", "60"));
  if (strcmp(argv[1], "sink") == 0) return sink(sockpath, atoi(opt(argc, argv, "--sentinel-len", "0")), opt(argc, argv, "--list", NULL));
  int fd = open_socket(sockpath, timeout_s);
  char buf[70000];
  char addr[64];

  if (strcmp(argv[1], "send") == 0) {
    const char *file = opt(argc, argv, "--file", NULL);
    const char *gen = opt(argc, argv, "--gen", NULL);
    uint64_t count = strtoull(opt(argc, argv, "--count", "0"), NULL, 10);
    uint64_t start = strtoull(opt(argc, argv, "--start", "0"), NULL, 10);
    double rate = atof(opt(argc, argv, "--rate", "0"));
    double duration = atof(opt(argc, argv, "--duration", "0"));
    int loop = flag(argc, argv, "--loop");
    const char *sentinel = opt(argc, argv, "--sentinel", NULL);
    const char *sentinel_addr = opt(argc, argv, "--sentinel-addr", NULL);
    const char *sentinel_list = opt(argc, argv, "--sentinel-list", NULL);
    Lines lines = {0};
    Template tpl = {0};
    if (file) {
      lines = load_file(file);
      if (lines.n == 0) {
        fprintf(stderr, "sender: %s has no lines\n", file);
        return 2;
      }
      if (!count) count = lines.n;
    } else if (gen) {
      tpl = parse_template(opt(argc, argv, "--template", ""));
    } else {
      fprintf(stderr, "sender: --file or --gen is required\n");
      return 64;
    }
    if (sentinel && sentinel_list) list_write(sentinel_list, "/\n");

    int64_t t0 = now_ns();
    int64_t end = duration > 0 ? t0 + (int64_t)(duration * 1e9) : INT64_MAX;
    uint64_t sent = 0;
    size_t at = 0;
    int64_t tick = t0;
    for (;;) {
      if (!loop && sent >= count) break;
      if (duration > 0 && (sent & 63) == 0 && now_ns() >= end) break;
      if (rate > 0) {
        /* lines due by now; when ahead, sleep to the next 200 us tick */
        uint64_t due = (uint64_t)((double)(now_ns() - t0) * rate / 1e9);
        if (sent >= due) {
          tick += 200000;
          int64_t n = now_ns();
          if (tick < n) tick = n;
          sleep_until(tick);
          continue;
        }
      }
      if (file) {
        send_one(fd, lines.base + lines.off[at], lines.len[at]);
        if (++at == lines.n) at = 0;
      } else {
        format_addr(addr, gen, start + sent);
        send_one(fd, buf, fill(buf, &tpl, addr));
      }
      sent++;
    }
    int64_t t1 = now_ns();
    int64_t done = -1;
    if (sentinel) {
      send_one(fd, sentinel, strlen(sentinel));
      if (sentinel_list && sentinel_addr) {
        int64_t seen = wait_listed(sentinel_list, sentinel_addr, t1, t1 + (int64_t)(timeout_s * 1e9));
        if (seen > 0) done = seen - t0;
      }
    }
    printf("{\"sent\":%llu,\"send_ns\":%lld,\"done_ns\":%lld}\n", (unsigned long long)sent, (long long)(t1 - t0), (long long)done);
    return done == -1 && sentinel_list ? 3 : 0;
  }

  if (strcmp(argv[1], "probe") == 0) {
    const char *list = opt(argc, argv, "--list", NULL);
    uint64_t count = strtoull(opt(argc, argv, "--count", "200"), NULL, 10);
    uint64_t start = strtoull(opt(argc, argv, "--start", "13000000"), NULL, 10);
    int64_t gap = atoll(opt(argc, argv, "--gap-us", "3000")) * 1000;
    if (!list) {
      fprintf(stderr, "sender: --list is required\n");
      return 64;
    }
    Template tpl = parse_template(opt(argc, argv, "--template", ""));
    int64_t *lat = calloc(count, sizeof *lat);
    list_write(list, "/\n");
    unsigned missed = 0;
    for (uint64_t i = 0; i < count; i++) {
      format_addr(addr, "v4", start + i);
      size_t n = fill(buf, &tpl, addr);
      int64_t t0 = now_ns();
      send_one(fd, buf, n);
      int64_t seen = wait_listed(list, addr, t0, t0 + 2000000000LL);
      if (seen < 0) {
        missed++;
        lat[i] = -1;
      } else {
        lat[i] = seen - t0;
        char cmd[80];
        snprintf(cmd, sizeof cmd, "-%s\n", addr);
        list_write(list, cmd);
      }
      /* a little jitter so probes do not lock onto the sender's bursts */
      sleep_ns(gap + (int64_t)(rand() % 1000) * 1000);
    }
    printf("{\"missed\":%u,\"lat_ns\":[", missed);
    for (uint64_t i = 0; i < count; i++) printf("%s%lld", i ? "," : "", (long long)lat[i]);
    printf("]}\n");
    return 0;
  }

  fprintf(stderr, "sender: unknown mode %s\n", argv[1]);
  return 64;
}
