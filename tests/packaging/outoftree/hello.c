/* hello.c - a handler built out of tree against the staged threadmill-dev files only
 * (test_outoftree.sh): pkg-config --cflags --libs threadmill-handler. Uses ABI 1.1's reply_ex
 * when the host has it, so the header's new declarations are compiled as a C user sees them. */
#include <stddef.h>
#include <threadmill/handler.h>

static const threadmill_host_api* g_host;

static int init(threadmill_ctx* ctx, const threadmill_host_api* host, const char* config,
                void** state) {
  (void)ctx, (void)config, (void)state;
  g_host = host;
  return THREADMILL_OK;
}

static int on_inbound(threadmill_ctx* ctx, const threadmill_envelope* env) {
  threadmill_message_options o = {0};
  char id[THREADMILL_ID_CAP];
  o.struct_size = sizeof o;
  o.subject = "Hello";
  o.text = "Hello from out of tree.";
  if (!THREADMILL_HAS_MEMBER(g_host->struct_size, threadmill_host_api, reply_ex)) {
    return g_host->reply(ctx, env->channel_message_id, o.text, NULL);
  }
  return g_host->reply_ex(ctx, env->channel_message_id, &o, id, sizeof id);
}

/* Designated initialisers: members a later minor appends stay NULL without a warning. */
static const threadmill_handler kTable = {
    .struct_size = sizeof(threadmill_handler),
    .abi_major = THREADMILL_ABI_MAJOR,
    .abi_minor = THREADMILL_ABI_MINOR,
    .name = "hello",
    .init = init,
    .on_inbound = on_inbound,
};

THREADMILL_EXPORT const threadmill_handler* threadmill_handler_v1(void) { return &kTable; }

/* Not exported (the version script keeps only the entry symbol). */
int hello_internal_helper(void) { return 1; }
