/* flow/cli: `sluice flow import` (see cli.h).
 *
 * Design: validation happens here first, with every problem printed, so the user sees the whole
 * list at once; the store then re-validates inside flowstore_flow_import (cheap, and keeps the
 * store safe for callers that skip the CLI).
 */
#include "flow/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flowstore.h"
#include "flow/snapshot.h"

#define MAX_SNAPSHOT_BYTES ((size_t)64 << 20)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sluice flow import FILE [--tenant NAME] [--data DIR] [--strict]\n"
            "  Validates a Flow snapshot (one flow version as JSON) and imports it as the flow's\n"
            "  newest, active version. Prints \"<tenant id> <flow id>\".\n"
            "  --tenant NAME  tenant to import into, created when new (default: default)\n"
            "  --data DIR     data folder holding flow.db (default: ./sluice-data)\n"
            "  --strict       treat dangling references (start element, outcome targets) as errors\n");
}

static void print_problems(const sl_problems *p, size_t from, const char *kind)
{
    for (size_t i = from; i < p->n; i++) {
        const sl_problem *q = &p->items[i];
        if (q->pointer[0])
            fprintf(stderr, "%s: %s: %s%s\n", q->file, q->pointer, kind, q->message);
        else
            fprintf(stderr, "%s: %s%s\n", q->file, kind, q->message);
    }
    if (p->dropped)
        fprintf(stderr, "(%zu more problems not shown)\n", p->dropped);
}

/* Takes the value of option argv[*i] (either "--opt=value" or "--opt value"). */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (a[n] == '=')
        return a + n + 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "sluice flow import: %s needs a value\n", name);
        return NULL;
    }
    return argv[++*i];
}

static bool is_option(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

int flow_cli_import(int argc, char **argv)
{
    const char *tenant = "default", *data = "./sluice-data", *file = NULL;
    bool strict = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (is_option(a, "--tenant")) {
            if (!(tenant = option_value(argc, argv, &i, "--tenant")))
                return 2;
        } else if (is_option(a, "--data")) {
            if (!(data = option_value(argc, argv, &i, "--data")))
                return 2;
        } else if (strcmp(a, "--strict") == 0) {
            strict = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "sluice flow import: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "sluice flow import: one FILE only (got %s and %s)\n", file, a);
            return 2;
        }
    }
    if (!file) {
        usage(stderr);
        return 2;
    }
    if (!tenant[0]) {
        fprintf(stderr, "sluice flow import: --tenant must not be empty\n");
        return 2;
    }

    sl_error err = {0};
    char *text = NULL;
    size_t len = 0;
    if (file_read(file, MAX_SNAPSHOT_BYTES, &text, &len, &err) != 0) {
        fprintf(stderr, "%s: %s\n", file, err.msg);
        return 1;
    }
    sl_problems problems;
    problems_init(&problems);
    flow_snapshot *snap = NULL;
    int rc = snapshot_parse_text(text, len, file, &snap, &problems);
    if (rc != 0) {
        print_problems(&problems, 0, "");
        goto out;
    }
    size_t links = snapshot_check_links(snap, file, &problems);
    if (links) {
        print_problems(&problems, 0, strict ? "" : "warning: ");
        if (strict) {
            rc = 1;
            goto out;
        }
    }

    flowstore *fs = NULL;
    char tenant_id[37], version_id[37];
    char *flow_id = NULL;
    if ((rc = flowstore_open(data, &fs, &err)) == 0 && (rc = flowstore_tenant_ensure(fs, tenant, tenant_id, &err)) == 0)
        rc = flowstore_flow_import(fs, tenant_id, text, &flow_id, version_id, &err);
    if (rc == 0)
        printf("%s %s\n", tenant_id, flow_id);
    else
        fprintf(stderr, "sluice flow import: %s%s%s\n", err.where[0] ? err.where : "", err.where[0] ? ": " : "",
                err.msg);
    free(flow_id);
    flowstore_close(fs);
out:
    snapshot_free(snap);
    problems_free(&problems);
    free(text);
    return rc == 0 ? 0 : 1;
}

/* Parses `--tenant NAME` / `--data DIR` / `--name N` for the tenant and key commands; returns
 * 0, 1 (help printed) or 2 (usage error). */
static int parse_common(int argc, char **argv, const char *cmd, const char **tenant, const char **data,
                        const char **name, const char **positional)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            return 1;
        } else if (is_option(a, "--tenant")) {
            if (!(*tenant = option_value(argc, argv, &i, "--tenant")))
                return 2;
        } else if (is_option(a, "--data")) {
            if (!(*data = option_value(argc, argv, &i, "--data")))
                return 2;
        } else if (name && is_option(a, "--name")) {
            if (!(*name = option_value(argc, argv, &i, "--name")))
                return 2;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "sluice %s: unknown option %s\n", cmd, a);
            return 2;
        } else if (positional && !*positional) {
            *positional = a;
        } else {
            fprintf(stderr, "sluice %s: unexpected argument %s\n", cmd, a);
            return 2;
        }
    }
    return 0;
}

int flow_cli_tenant_add(int argc, char **argv)
{
    const char *tenant = NULL, *data = "./sluice-data", *name = NULL;
    int prc = parse_common(argc, argv, "tenant add", &tenant, &data, NULL, &name);
    if (prc == 1 || prc == 2 || !name || !*name) {
        fprintf(prc == 1 ? stdout : stderr,
                "usage: sluice tenant add NAME [--data DIR]\n"
                "  Creates the Flow tenant NAME (or finds it) and prints its id alone on stdout.\n");
        return prc == 1 ? 0 : 2;
    }
    sl_error err = {0};
    flowstore *fs = NULL;
    char id[37];
    int rc = flowstore_open(data, &fs, &err);
    if (!rc)
        rc = flowstore_tenant_ensure(fs, name, id, &err);
    if (!rc)
        printf("%s\n", id);
    else
        fprintf(stderr, "sluice tenant add: %s\n", err.msg);
    flowstore_close(fs);
    return rc ? 1 : 0;
}

int flow_cli_key_add(int argc, char **argv)
{
    const char *tenant = NULL, *data = "./sluice-data", *name = NULL;
    int prc = parse_common(argc, argv, "key add", &tenant, &data, &name, NULL);
    if (prc == 1 || prc == 2 || !tenant || !*tenant) {
        fprintf(prc == 1 ? stdout : stderr,
                "usage: sluice key add --tenant NAME [--name LABEL] [--data DIR]\n"
                "  Issues a builder API key (x-boomi-flow-api-key) for the tenant NAME and prints it alone\n"
                "  on stdout. Only a hash of the key is stored: keep it.\n");
        return prc == 1 ? 0 : 2;
    }
    sl_error err = {0};
    flowstore *fs = NULL;
    char id[37];
    char *key = NULL;
    int rc = flowstore_open(data, &fs, &err);
    if (!rc && (rc = flowstore_tenant_find(fs, tenant, id, &err)) != 0)
        fprintf(stderr, "sluice key add: no tenant called \"%s\" (create it with 'sluice tenant add %s')\n", tenant,
                tenant);
    else if (!rc && (rc = flowstore_key_add(fs, id, name, &key, &err)) != 0)
        fprintf(stderr, "sluice key add: %s\n", err.msg);
    else if (rc)
        fprintf(stderr, "sluice key add: %s\n", err.msg);
    if (!rc)
        printf("%s\n", key);
    free(key);
    flowstore_close(fs);
    return rc ? 1 : 0;
}
