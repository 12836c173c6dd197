/*
 * noop-milter: the protocol floor for threadmill's benchmark and a stand-in
 * milter for validating the e2e rig before the real daemon exists.
 *
 * It accepts every message. By default it negotiates the steps threadmill
 * itself needs (envelope, headers, end-of-message; no body, no unknown/data,
 * no connect/helo replies) so the benchmark compares like with like:
 *
 *   noop-milter -p SOCKET [-m headers|minimal|all] [-t TIMEOUT]
 *
 *   -m headers  MAIL, RCPT, headers, EOH, EOM (default)
 *   -m minimal  EOM only (every other step skipped)
 *   -m all      every step negotiated and answered (the "naive milter" cost)
 *
 * SOCKET uses libmilter syntax: local:/path, inet:PORT@HOST, inet6:PORT@HOST.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

enum mode { MODE_HEADERS, MODE_MINIMAL, MODE_ALL };
static enum mode g_mode = MODE_HEADERS;

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                             unsigned long f2, unsigned long f3,
                             unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3) {
    (void)ctx;
    (void)f2;
    (void)f3;
    unsigned long want = 0;
    switch (g_mode) {
    case MODE_ALL:
        want = 0;
        break;
    case MODE_HEADERS:
        want = SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOUNKNOWN |
               SMFIP_NODATA | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR |
               SMFIP_NR_EOH;
        break;
    case MODE_MINIMAL:
        want = SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT |
               SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN |
               SMFIP_NODATA;
        break;
    }
    /* Only ask for what the MTA offers. */
    *pf0 = 0; /* no modification actions */
    *pf1 = want & f1;
    *pf2 = 0;
    *pf3 = 0;
    (void)f0;
    return SMFIS_CONTINUE;
}

static sfsistat on_continue_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr) {
    (void)ctx; (void)host; (void)addr;
    return SMFIS_CONTINUE;
}
static sfsistat on_continue_helo(SMFICTX *ctx, char *helo) {
    (void)ctx; (void)helo;
    return SMFIS_CONTINUE;
}
static sfsistat on_continue_argv(SMFICTX *ctx, char **argv) {
    (void)ctx; (void)argv;
    return SMFIS_CONTINUE;
}
static sfsistat on_continue_header(SMFICTX *ctx, char *name, char *value) {
    (void)ctx; (void)name; (void)value;
    return SMFIS_CONTINUE;
}
static sfsistat on_continue_ctx(SMFICTX *ctx) {
    (void)ctx;
    return SMFIS_CONTINUE;
}
static sfsistat on_continue_body(SMFICTX *ctx, unsigned char *b, size_t n) {
    (void)ctx; (void)b; (void)n;
    return SMFIS_CONTINUE;
}
static sfsistat on_continue_unknown(SMFICTX *ctx, const char *cmd) {
    (void)ctx; (void)cmd;
    return SMFIS_CONTINUE;
}
static sfsistat on_eom(SMFICTX *ctx) {
    (void)ctx;
    return SMFIS_ACCEPT;
}

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s -p SOCKET [-m headers|minimal|all] [-t TIMEOUT]\n", argv0);
    exit(2);
}

int main(int argc, char **argv) {
    const char *sock = NULL;
    int timeout = 60;
    int opt;
    while ((opt = getopt(argc, argv, "p:m:t:h")) != -1) {
        switch (opt) {
        case 'p': sock = optarg; break;
        case 'm':
            if (strcmp(optarg, "headers") == 0) g_mode = MODE_HEADERS;
            else if (strcmp(optarg, "minimal") == 0) g_mode = MODE_MINIMAL;
            else if (strcmp(optarg, "all") == 0) g_mode = MODE_ALL;
            else usage(argv[0]);
            break;
        case 't': timeout = atoi(optarg); break;
        default: usage(argv[0]);
        }
    }
    if (sock == NULL) usage(argv[0]);

    struct smfiDesc desc;
    memset(&desc, 0, sizeof desc);
    desc.xxfi_name = (char *)"noop-milter";
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = 0;
    desc.xxfi_connect = on_continue_connect;
    desc.xxfi_helo = on_continue_helo;
    desc.xxfi_envfrom = on_continue_argv;
    desc.xxfi_envrcpt = on_continue_argv;
    desc.xxfi_header = on_continue_header;
    desc.xxfi_eoh = on_continue_ctx;
    desc.xxfi_body = on_continue_body;
    desc.xxfi_eom = on_eom;
    desc.xxfi_abort = on_continue_ctx;
    desc.xxfi_close = on_continue_ctx;
    desc.xxfi_unknown = on_continue_unknown;
    desc.xxfi_data = on_continue_ctx;
    desc.xxfi_negotiate = on_negotiate;

    if (strncmp(sock, "local:", 6) == 0 || strncmp(sock, "unix:", 5) == 0) {
        const char *path = strchr(sock, ':') + 1;
        if (unlink(path) != 0 && errno != ENOENT) {
            fprintf(stderr, "noop-milter: cannot remove stale %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    if (smfi_setconn((char *)sock) == MI_FAILURE) {
        fprintf(stderr, "noop-milter: smfi_setconn(%s) failed\n", sock);
        return 1;
    }
    smfi_settimeout(timeout);
    if (smfi_register(desc) == MI_FAILURE) {
        fprintf(stderr, "noop-milter: smfi_register failed\n");
        return 1;
    }
    /* Socket created now (not lazily in smfi_main) so callers can wait for it. */
    if (smfi_opensocket(1) == MI_FAILURE) {
        fprintf(stderr, "noop-milter: cannot open %s\n", sock);
        return 1;
    }
    if (strncmp(sock, "local:", 6) == 0 || strncmp(sock, "unix:", 5) == 0) {
        /* Postfix's smtpd runs as user postfix: let it connect. */
        chmod(strchr(sock, ':') + 1, 0666);
    }
    fprintf(stderr, "noop-milter: listening on %s\n", sock);
    int rc = smfi_main();
    return rc == MI_SUCCESS ? 0 : 1;
}
