/* refx-bench-rabbitmq: the RabbitMQ peer of refx-bench-ingest, as small as
 * it can be (librabbitmq, the rabbitmq-c client). PUBLISHERS threads, each
 * with its own connection and channel in confirm mode, publish persistent
 * (delivery_mode 2) messages of BYTES bytes to one durable queue through the
 * default exchange, keeping up to WINDOW unconfirmed; a message counts once
 * the broker has confirmed it (written to disk: a persistent message on a
 * durable queue is confirmed after it is fsynced). Prints one line:
 *
 *   rabbitmq: P publishers, window W, B bytes: N confirmed in S s = R msg/s
 *
 * Usage: refx-bench-rabbitmq HOST PORT PUBLISHERS WINDOW BYTES MILLISECONDS
 * A benchmark, not a test: it asserts nothing about timing; it exits 1 on a
 * connection or protocol failure. deploy/refx.sh bench starts a private
 * rabbitmq-server for it. */
#include <pthread.h>
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *host;
static int port, window_size, bytes, millis;
static volatile int stop;

struct publisher {
  pthread_t thread;
  uint64_t confirmed;
  int failed;
};

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int rpc_ok(amqp_connection_state_t c, const char *what) {
  amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return 1;
  fprintf(stderr, "refx-bench-rabbitmq: %s failed (reply type %d)\n", what, (int)r.reply_type);
  return 0;
}

/* Counts the confirms in one frame (basic.ack, possibly `multiple`);
 * returns -1 on a nack or a failure. */
static int take_confirm(amqp_connection_state_t c, uint64_t *last_acked, int block) {
  amqp_frame_t frame;
  struct timeval zero = {0, 0};
  int rc = amqp_simple_wait_frame_noblock(c, &frame, block ? NULL : &zero);
  if (rc == AMQP_STATUS_TIMEOUT) return 0;
  if (rc != AMQP_STATUS_OK) return -1;
  if (frame.frame_type != AMQP_FRAME_METHOD) return 0;
  if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
    amqp_basic_ack_t *ack = (amqp_basic_ack_t *)frame.payload.method.decoded;
    int n = ack->multiple ? (int)(ack->delivery_tag - *last_acked) : 1;
    if (ack->delivery_tag > *last_acked) *last_acked = ack->delivery_tag;
    return n;
  }
  return -1; /* basic.nack or anything unexpected */
}

static void *publish(void *arg) {
  struct publisher *p = arg;
  amqp_connection_state_t c = amqp_new_connection();
  amqp_socket_t *socket = amqp_tcp_socket_new(c);
  if (!socket || amqp_socket_open(socket, host, port) != AMQP_STATUS_OK) {
    fprintf(stderr, "refx-bench-rabbitmq: cannot connect to %s:%d\n", host, port);
    p->failed = 1;
    return NULL;
  }
  if (amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest").reply_type != AMQP_RESPONSE_NORMAL) {
    fprintf(stderr, "refx-bench-rabbitmq: login as guest failed\n");
    goto fail;
  }
  amqp_channel_open(c, 1);
  if (!rpc_ok(c, "channel.open")) goto fail;
  amqp_queue_declare(c, 1, amqp_cstring_bytes("refx-bench"), 0, /*durable=*/1, 0, 0, amqp_empty_table);
  if (!rpc_ok(c, "queue.declare")) goto fail;
  amqp_confirm_select(c, 1);
  if (!rpc_ok(c, "confirm.select")) goto fail;

  char *body = malloc((size_t)bytes);
  memset(body, 'r', (size_t)bytes);
  amqp_bytes_t message = {(size_t)bytes, body};
  amqp_basic_properties_t props;
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = 2; /* persistent */
  uint64_t sent = 0, acked = 0;
  while (!stop) {
    while (sent - acked < (uint64_t)window_size && !stop) {
      if (amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes("refx-bench"), 0, 0, &props, message) !=
          AMQP_STATUS_OK) {
        p->failed = 1;
        break;
      }
      ++sent;
    }
    if (p->failed) break;
    int n = take_confirm(c, &acked, 1);
    if (n < 0) {
      p->failed = 1;
      break;
    }
    while ((n = take_confirm(c, &acked, 0)) > 0) {
    }
    p->confirmed = acked;
  }
  free(body);
  amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c);
  return NULL;
fail:
  p->failed = 1;
  amqp_destroy_connection(c);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: refx-bench-rabbitmq HOST PORT PUBLISHERS WINDOW BYTES MILLISECONDS\n");
    return 2;
  }
  host = argv[1];
  port = atoi(argv[2]);
  int publishers = atoi(argv[3]);
  window_size = atoi(argv[4]);
  bytes = atoi(argv[5]);
  millis = atoi(argv[6]);
  if (publishers < 1 || window_size < 1 || bytes < 1 || millis < 1) {
    fprintf(stderr, "refx-bench-rabbitmq: PUBLISHERS, WINDOW, BYTES and MILLISECONDS must be positive\n");
    return 2;
  }
  struct publisher *p = calloc((size_t)publishers, sizeof *p);
  for (int i = 0; i < publishers; ++i) pthread_create(&p[i].thread, NULL, publish, &p[i]);
  /* A short warm-up, then the measured interval. */
  struct timespec warm = {0, 300 * 1000 * 1000};
  nanosleep(&warm, NULL);
  uint64_t before = 0;
  for (int i = 0; i < publishers; ++i) before += p[i].confirmed;
  double start = now_seconds();
  struct timespec interval = {millis / 1000, (long)(millis % 1000) * 1000000L};
  nanosleep(&interval, NULL);
  uint64_t after = 0;
  for (int i = 0; i < publishers; ++i) after += p[i].confirmed;
  double seconds = now_seconds() - start;
  stop = 1;
  int failed = 0;
  for (int i = 0; i < publishers; ++i) {
    pthread_join(p[i].thread, NULL);
    failed |= p[i].failed;
  }
  if (failed) return 1;
  printf("rabbitmq: %d publishers, window %d, %d bytes: %llu confirmed in %.2f s = %.0f msg/s\n", publishers,
         window_size, bytes, (unsigned long long)(after - before), seconds, (double)(after - before) / seconds);
  return 0;
}
