/* replay_main: a plain main() for the fuzz targets, so every build (including the sanitizer
 * build, with gcc) runs each target's seed corpus as a CTest test. It feeds every regular file
 * of the folder argv[1] to LLVMFuzzerTestOneInput, in sorted name order so runs are repeatable.
 * Exits 1 when the folder is missing, unreadable or holds no inputs. */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a whole file; returns NULL on failure. An empty file gives a valid 1-byte buffer. */
static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *data = malloc(cap);
    while (data) {
        if (n == cap) {
            uint8_t *bigger = realloc(data, cap * 2);
            if (!bigger) {
                free(data);
                data = NULL;
                break;
            }
            data = bigger;
            cap *= 2;
        }
        size_t got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (data && ferror(f)) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *len = n;
    return data;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 1;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        fprintf(stderr, "%s: cannot open %s\n", argv[0], argv[1]);
        return 1;
    }
    char **paths = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        size_t len = strlen(argv[1]) + strlen(de->d_name) + 2;
        char *path = malloc(len);
        if (!path)
            abort();
        snprintf(path, len, "%s/%s", argv[1], de->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **bigger = realloc(paths, cap * sizeof *paths);
            if (!bigger)
                abort();
            paths = bigger;
        }
        paths[n++] = path;
    }
    closedir(dir);
    if (n == 0) {
        fprintf(stderr, "%s: no inputs in %s\n", argv[0], argv[1]);
        free(paths);
        return 1;
    }
    qsort(paths, n, sizeof *paths, cmp_names);
    int rc = 0;
    size_t replayed = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        uint8_t *data = read_all(paths[i], &len);
        if (!data) {
            fprintf(stderr, "%s: cannot read %s\n", argv[0], paths[i]);
            rc = 1;
        } else {
            LLVMFuzzerTestOneInput(data, len);
            replayed++;
            free(data);
        }
        free(paths[i]);
    }
    free(paths);
    printf("replayed %zu inputs\n", replayed);
    return rc;
}
