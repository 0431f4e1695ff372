/* flow/cli: `sluice flow import|export`, `sluice tenant add`, `sluice key add` (see cli.h).
 *
 * Design: validation happens here first, with every problem printed, so the user sees the whole
 * list at once; the store then re-validates inside flowstore_flow_import (cheap, and keeps the
 * store safe for callers that skip the CLI). The import itself is package_import, the same code
 * the package API runs (binding to the tenant's services, id remapping, uri mapping, editable
 * elements).
 */
#include "flow/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flowstore.h"
#include "flow/package.h"
#include "flow/snapshot.h"

#define MAX_SNAPSHOT_BYTES ((size_t)64 << 20)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sluice flow import FILE [--tenant NAME] [--data DIR] [--strict] [--remap-ids | --keep-ids]\n"
            "                              [--bind | --no-bind] [--service-uri OLD=NEW]...\n"
            "  Validates a Flow snapshot or package (one flow version as JSON) and imports it as the flow's\n"
            "  newest, active version; its header and elements become editable through the draw API.\n"
            "  Prints \"<tenant id> <flow id>\".\n"
            "  --tenant NAME          tenant to import into, created when new (default: default)\n"
            "  --data DIR             data folder holding flow.db (default: ./sluice-data)\n"
            "  --strict               treat dangling references (start element, outcome targets) as errors\n"
            "  --remap-ids            give the flow and every element fresh ids (the default for a package\n"
            "                         exported from another tenant); --keep-ids keeps them\n"
            "  --service-uri OLD=NEW  re-point services whose uri is OLD (or starts with OLD/) to NEW\n"
            "  --bind | --no-bind     bind the file's services to the tenant's services of the same\n"
            "                         developerName (the tenant's element, uri, credentials and types are\n"
            "                         used). Default: bind for a package (a \"package\" member), not for a\n"
            "                         plain snapshot, which carries its services whole.\n");
}

static void export_usage(FILE *out)
{
    fprintf(out,
            "usage: sluice flow export FLOW [--tenant NAME] [--version V] [--data DIR]\n"
            "  Prints a package of a flow version (the active one by default) alone on stdout: the snapshot\n"
            "  plus a \"package\" member, without service passwords or ContentPassword defaults.\n"
            "  FLOW is the flow's id or its developerName. V is a version id (ours or the snapshot's).\n"
            "  --tenant NAME  tenant holding the flow (default: default)\n"
            "  --data DIR     data folder holding flow.db (default: ./sluice-data)\n");
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
        fprintf(stderr, "sluice flow: %s needs a value\n", name);
        return NULL;
    }
    return argv[++*i];
}

static bool is_option(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

/* Adds "OLD=NEW" to map: split before "=http://" / "=https://" when present (an OLD may hold
 * '='), else at the first '='. 0, or 2 after printing a usage error. */
static int add_service_uri(jv *map, const char *arg)
{
    const char *eq = strstr(arg, "=http://");
    if (!eq)
        eq = strstr(arg, "=https://");
    if (!eq)
        eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
        fprintf(stderr, "sluice flow import: --service-uri wants OLD=NEW (got \"%s\")\n", arg);
        return 2;
    }
    char *old = xstrndup(arg, (size_t)(eq - arg));
    jv_set_str(map, old, eq + 1);
    free(old);
    return 0;
}

int flow_cli_import(int argc, char **argv)
{
    const char *tenant = "default", *data = "./sluice-data", *file = NULL;
    bool strict = false;
    int remap = -1, bind = -1;
    jv *uri_map = jv_new_object();
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            jv_free(uri_map);
            return 0;
        } else if (is_option(a, "--tenant")) {
            if (!(tenant = option_value(argc, argv, &i, "--tenant")))
                rc = 2;
        } else if (is_option(a, "--data")) {
            if (!(data = option_value(argc, argv, &i, "--data")))
                rc = 2;
        } else if (is_option(a, "--service-uri")) {
            if (!(v = option_value(argc, argv, &i, "--service-uri")) || add_service_uri(uri_map, v) != 0)
                rc = 2;
        } else if (strcmp(a, "--strict") == 0) {
            strict = true;
        } else if (strcmp(a, "--remap-ids") == 0) {
            remap = 1;
        } else if (strcmp(a, "--keep-ids") == 0) {
            remap = 0;
        } else if (strcmp(a, "--bind") == 0) {
            bind = 1;
        } else if (strcmp(a, "--no-bind") == 0) {
            bind = 0;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "sluice flow import: unknown option %s\n", a);
            usage(stderr);
            rc = 2;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "sluice flow import: one FILE only (got %s and %s)\n", file, a);
            rc = 2;
        }
        if (rc)
            break;
    }
    if (!rc && !file) {
        usage(stderr);
        rc = 2;
    }
    if (!rc && !tenant[0]) {
        fprintf(stderr, "sluice flow import: --tenant must not be empty\n");
        rc = 2;
    }
    if (rc) {
        jv_free(uri_map);
        return rc;
    }

    sl_error err = {0};
    char *text = NULL;
    size_t len = 0;
    if (file_read(file, MAX_SNAPSHOT_BYTES, &text, &len, &err) != 0) {
        fprintf(stderr, "%s: %s\n", file, err.msg);
        jv_free(uri_map);
        return 1;
    }
    sl_problems problems;
    problems_init(&problems);
    flow_snapshot *snap = NULL;
    flowstore *fs = NULL;
    jv *doc = NULL, *result = NULL;
    /* the structure first, as written (every problem, with the file's own pointers) */
    rc = snapshot_parse_text(text, len, file, &snap, &problems);
    if (rc != 0) {
        print_problems(&problems, 0, "");
        goto out;
    }
    doc = jv_parse(text, len, &err);
    package_options o = {.remap_ids = remap, .bind = bind, .uri_mapping = jv_obj_size(uri_map) ? uri_map : NULL,
                         .strict = strict};
    char tenant_id[37];
    if ((rc = flowstore_open(data, &fs, &err)) == 0 && (rc = flowstore_tenant_ensure(fs, tenant, tenant_id, &err)) == 0)
        rc = package_import(fs, tenant_id, doc, &o, file, &result, &problems, &err);
    if (rc == SL_EINVAL && problems.n) {
        print_problems(&problems, 0, "");
        goto out;
    }
    if (rc) {
        fprintf(stderr, "sluice flow import: %s%s%s\n", err.where[0] ? err.where : "", err.where[0] ? ": " : "",
                err.msg);
        goto out;
    }
    const jv *warnings = jv_get(result, "warnings");
    for (size_t i = 0; i < jv_len(warnings); i++) {
        const char *ptr = jv_get_str(jv_at(warnings, i), "pointer");
        fprintf(stderr, "%s: %s%swarning: %s\n", file, ptr && *ptr ? ptr : "", ptr && *ptr ? ": " : "",
                jv_get_str(jv_at(warnings, i), "message"));
    }
    const jv *bound = jv_get(result, "bound");
    for (size_t i = 0; i < jv_len(bound); i++) {
        const jv *b = jv_at(bound, i);
        const jv *alts = jv_get(b, "alternatives");
        if (jv_len(alts))
            fprintf(stderr, "%s: warning: the tenant has %zu services called \"%s\"; bound to %s (the others: "
                    "remove them, or import with --no-bind)\n", file, jv_len(alts) + 1, jv_get_str(b, "developerName"),
                    jv_get_str(b, "id"));
        if (str_ieq(jv_get_str(b, "packageId"), jv_get_str(b, "id")))
            continue; /* the tenant's own element (a re-import): nothing to tell */
        fprintf(stderr, "%s: note: %s \"%s\" bound to the tenant's %s %s\n", file, jv_get_str(b, "kind"),
                jv_get_str(b, "developerName"), jv_get_str(b, "kind"), jv_get_str(b, "id"));
    }
    printf("%s %s\n", tenant_id, jv_get_str(result, "flowId"));
out:
    jv_free(result);
    jv_free(doc);
    jv_free(uri_map);
    flowstore_close(fs);
    snapshot_free(snap);
    problems_free(&problems);
    free(text);
    return rc == 0 ? 0 : 1;
}

int flow_cli_export(int argc, char **argv)
{
    const char *tenant = "default", *data = "./sluice-data", *flow = NULL, *version = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            export_usage(stdout);
            return 0;
        } else if (is_option(a, "--tenant")) {
            if (!(tenant = option_value(argc, argv, &i, "--tenant")))
                return 2;
        } else if (is_option(a, "--data")) {
            if (!(data = option_value(argc, argv, &i, "--data")))
                return 2;
        } else if (is_option(a, "--version")) {
            if (!(version = option_value(argc, argv, &i, "--version")))
                return 2;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "sluice flow export: unknown option %s\n", a);
            export_usage(stderr);
            return 2;
        } else if (!flow) {
            flow = a;
        } else {
            fprintf(stderr, "sluice flow export: one FLOW only (got %s and %s)\n", flow, a);
            return 2;
        }
    }
    if (!flow || !*flow || !tenant[0]) {
        export_usage(stderr);
        return 2;
    }
    sl_error err = {0};
    flowstore *fs = NULL;
    char tenant_id[37], ours[37];
    char *text = NULL, *by_name = NULL;
    int rc = flowstore_open(data, &fs, &err);
    if (!rc && (rc = flowstore_tenant_find(fs, tenant, tenant_id, &err)) != 0) {
        fprintf(stderr, "sluice flow export: no tenant called \"%s\"\n", tenant);
        goto out;
    }
    if (!rc) {
        rc = flowstore_flow_version(fs, tenant_id, flow, version, &text, ours, &err);
        if (rc == SL_ENOTFOUND && flowstore_flow_by_name(fs, tenant_id, flow, &by_name, &err) == 0)
            rc = flowstore_flow_version(fs, tenant_id, by_name, version, &text, ours, &err);
    }
    if (rc) {
        fprintf(stderr, "sluice flow export: %s\n", err.msg);
        goto out;
    }
    jv *doc = jv_parse(text, strlen(text), &err);
    if (!doc) {
        fprintf(stderr, "sluice flow export: the stored snapshot is not JSON: %s\n", err.msg);
        rc = SL_EIO;
        goto out;
    }
    jv *pkg = package_export(doc, tenant_id, ours, now_ms());
    char *out = jv_dumps(pkg);
    printf("%s\n", out);
    free(out);
    jv_free(pkg);
    jv_free(doc);
out:
    free(text);
    free(by_name);
    flowstore_close(fs);
    return rc ? 1 : 0;
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
