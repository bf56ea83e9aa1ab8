/*
 * The two system calls banban needs and Node does not offer, for the edges
 * that make them often. Built by build-native-edge.ts into
 * dist/bin/native-edge.node; loaded by native-edge.ts. When it is missing,
 * each edge does the same work the slower way Node allows.
 *
 * recvBatch(fd, slots, slotBytes, lengths) -> count, or -errno
 *   For source/syslog-socket.ts: many datagrams from a non-blocking socket
 *   in one system call (recvmmsg). Without it: one read(2) a datagram.
 *   slots      a Buffer of lengths.length slots of slotBytes each; datagram i
 *              is written at i * slotBytes
 *   lengths    an Int32Array: lengths[i] is datagram i's length. A datagram
 *              longer than its slot is cut to slotBytes by the kernel (as
 *              read(2) would cut it), so a length of slotBytes means "may have
 *              been cut"; the caller's rule for that stays the same.
 *   count      datagrams read, 0 when none was waiting (EAGAIN), or a
 *              negative errno for any other failure (EBADF on a closed fd).
 *
 * listWrite(fd, command) -> bytes written, or -errno
 *   For enforce/xt-recent.ts: one command to a list through a descriptor
 *   kept open, moved back to offset 0 first (lseek, then write). The kernel
 *   refuses a write at any other offset (ESPIPE) and pwrite on the file, and
 *   Node has no lseek: without this, each command is open, write, close.
 *   command    a Buffer holding the whole command ("+ADDR\n")
 *
 * Nothing is kept between calls; the JavaScript side owns every array.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* datagrams per call at most: the caller's lengths array may be shorter */
#define MAX_BATCH 64

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value recv_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return fail(env, "recvBatch(fd, slots, slotBytes, lengths)");

  int32_t fd, slot_bytes;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return fail(env, "recvBatch: fd must be a number");
  if (napi_get_value_int32(env, argv[2], &slot_bytes) != napi_ok || slot_bytes <= 0) return fail(env, "recvBatch: slotBytes must be a positive number");

  bool is_typed;
  napi_typedarray_type type;
  size_t n_slots_bytes, n_lengths, offset;
  void *slots, *lengths_data;
  napi_value ab;
  if (napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed) return fail(env, "recvBatch: slots must be a Buffer");
  if (napi_get_typedarray_info(env, argv[1], &type, &n_slots_bytes, &slots, &ab, &offset) != napi_ok || type != napi_uint8_array) return fail(env, "recvBatch: slots must be a Buffer");
  if (napi_is_typedarray(env, argv[3], &is_typed) != napi_ok || !is_typed) return fail(env, "recvBatch: lengths must be an Int32Array");
  if (napi_get_typedarray_info(env, argv[3], &type, &n_lengths, &lengths_data, &ab, &offset) != napi_ok || type != napi_int32_array) return fail(env, "recvBatch: lengths must be an Int32Array");

  size_t n = n_lengths < MAX_BATCH ? n_lengths : MAX_BATCH;
  if ((size_t)slot_bytes * n > n_slots_bytes) return fail(env, "recvBatch: slots is smaller than lengths.length * slotBytes");

  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  memset(msgs, 0, sizeof(struct mmsghdr) * n);
  for (size_t i = 0; i < n; i++) {
    iov[i].iov_base = (char *)slots + i * (size_t)slot_bytes;
    iov[i].iov_len = (size_t)slot_bytes;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  int got;
  do {
    got = recvmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT, NULL);
  } while (got < 0 && errno == EINTR);

  int32_t result;
  if (got < 0) {
    result = (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
  } else {
    int32_t *lengths = (int32_t *)lengths_data;
    for (int i = 0; i < got; i++) lengths[i] = (int32_t)msgs[i].msg_len;
    result = got;
  }
  napi_value out;
  napi_create_int32(env, result, &out);
  return out;
}

static napi_value list_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return fail(env, "listWrite(fd, command)");
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return fail(env, "listWrite: fd must be a number");
  bool is_buffer;
  void *data;
  size_t length;
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer) return fail(env, "listWrite: command must be a Buffer");
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) return fail(env, "listWrite: command must be a Buffer");

  int32_t result;
  if (lseek(fd, 0, SEEK_SET) < 0) {
    result = -errno;
  } else {
    ssize_t n;
    do {
      n = write(fd, data, length);
    } while (n < 0 && errno == EINTR);
    result = n < 0 ? -errno : (int32_t)n;
  }
  napi_value out;
  napi_create_int32(env, result, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "recvBatch", NAPI_AUTO_LENGTH, recv_batch, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "recvBatch", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "listWrite", NAPI_AUTO_LENGTH, list_write, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "listWrite", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(native_edge, init)
