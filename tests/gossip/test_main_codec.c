/*
 * tests/gossip/test_main_codec.c - main() of test_gossip_codec: loads the
 * golden vectors (tests/data/wire-vectors.json, produced by the Go
 * implementation) and runs the proto and crypto suites. Exit status is
 * non-zero if any assertion failed.
 */
#include "codec_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#ifndef NC_TEST_DATA_DIR
#error "NC_TEST_DATA_DIR must be defined by the build"
#endif

#define MAX_VECS 64

static struct {
	cJSON *root;
	struct test_vec vecs[MAX_VECS];
	unsigned count;
} g_tv;

const struct test_vec *
tv_get(const char *name)
{
	for (unsigned i = 0; i < g_tv.count; i++)
		if (strcmp(g_tv.vecs[i].name, name) == 0)
			return &g_tv.vecs[i];
	fprintf(stderr, "missing vector %s\n", name);
	CU_FAIL_FATAL("vector missing");
	return NULL;
}

unsigned
tv_count(void)
{
	return g_tv.count;
}

const struct test_vec *
tv_at(unsigned i)
{
	return i < g_tv.count ? &g_tv.vecs[i] : NULL;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
load_vectors(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *text = malloc((size_t)size + 1);
	if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		free(text);
		return -1;
	}
	fclose(f);
	text[size] = '\0';
	g_tv.root = cJSON_Parse(text);
	free(text);
	const cJSON *vecs = cJSON_GetObjectItemCaseSensitive(g_tv.root,
							    "vectors");
	if (!cJSON_IsArray(vecs))
		return -1;
	const cJSON *v;
	cJSON_ArrayForEach(v, vecs) {
		if (g_tv.count >= MAX_VECS)
			return -1;
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
		const cJSON *hex = cJSON_GetObjectItemCaseSensitive(v, "hex");
		const cJSON *fields = cJSON_GetObjectItemCaseSensitive(v,
								      "fields");
		if (!cJSON_IsString(name) || !cJSON_IsString(hex))
			return -1;
		size_t hl = strlen(hex->valuestring);
		if (hl % 2 != 0)
			return -1;
		char *bytes = malloc(hl / 2 + 1);
		if (bytes == NULL)
			return -1;
		for (size_t i = 0; i < hl / 2; i++) {
			int hi = hexval(hex->valuestring[2 * i]);
			int lo = hexval(hex->valuestring[2 * i + 1]);
			if (hi < 0 || lo < 0) {
				free(bytes);
				return -1;
			}
			bytes[i] = (char)(hi << 4 | lo);
		}
		struct test_vec *t = &g_tv.vecs[g_tv.count++];
		t->name = name->valuestring;
		t->fields = fields;
		t->bytes = bytes;
		t->len = hl / 2;
	}
	return 0;
}

static void
free_vectors(void)
{
	for (unsigned i = 0; i < g_tv.count; i++)
		free((void *)g_tv.vecs[i].bytes);
	cJSON_Delete(g_tv.root);
}

int
main(void)
{
	if (load_vectors(NC_TEST_DATA_DIR "/wire-vectors.json") != 0) {
		fprintf(stderr, "cannot load wire vectors\n");
		return 2;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (test_proto_register() != 0 || test_crypto_register() != 0) {
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_NORMAL);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() +
			  CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	free_vectors();
	return failed != 0 ? 1 : 0;
}
