/*
 * agent/files.c - the keyring file and the tags file (agent/files.h).
 *
 * serf's formats, so that a file written by one can be read by the other:
 * the keyring file is json.MarshalIndent of the base64 keys, primary
 * first (serf/serf.go writeKeyringFile); the tags file is the tags as a
 * JSON object (command/agent/agent.go writeTagsFile). Both are rewritten
 * whole and atomically (temporary file, fsync, rename, fsync of the
 * directory) with mode 0600: they hold key material, and tags may be
 * sensitive (serf's reason for the same mode).
 */
#include "agent/files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/config.h"
#include "gossip/crypto.h"
#include "util/util.h"

int
nc__agent_file_read(const char *path, char **out, char *err, size_t cap)
{
	return nc_file_read(path, NC_AGENT_FILE_MAX, out, NULL, NULL, err,
			    cap);
}

int
nc__agent_keyring_file_load(const char *path, struct nc_crypto_keyring *kr,
			    char *err, size_t cap)
{
	char *text;
	int rc = nc__agent_file_read(path, &text, err, cap);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	cJSON *root = cJSON_Parse(text);
	memset(text, 0, strlen(text));
	free(text);
	rc = -EINVAL;
	if (!cJSON_IsArray(root)) {
		snprintf(err, cap, "%s: not a JSON array of base64 keys", path);
		goto out;
	}
	int i = 0;
	const cJSON *k;
	cJSON_ArrayForEach(k, root)
	{
		uint8_t key[NC_CRYPTO_KEY_MAX];
		size_t len = 0;
		char why[128] = "";
		if (!cJSON_IsString(k)) {
			snprintf(err, cap, "%s: key %d is not a string", path,
				 i + 1);
			goto out;
		}
		if (nc_crypto_key_parse_base64(k->valuestring, key, &len, why,
					       sizeof(why)) != 0) {
			snprintf(err, cap, "%s: key %d: %s", path, i + 1,
				 why[0] ? why : "invalid key");
			goto out;
		}
		int irc = nc_crypto_keyring_install(kr, key, len);
		memset(key, 0, sizeof(key));
		if (irc != 0) {
			snprintf(err, cap, "%s: key %d: %s", path, i + 1,
				 irc == NC_CRYPTO_EFULL ? "too many keys"
							: "cannot install");
			goto out;
		}
		i++;
	}
	if (i == 0) {
		/* serf: "Keyring file contains no keys". */
		snprintf(err, cap, "%s: contains no keys", path);
		goto out;
	}
	rc = 1;
out:
	/* The tree holds key material: wipe the strings before freeing. */
	cJSON_ArrayForEach(k, root)
	{
		if (cJSON_IsString(k))
			memset(k->valuestring, 0, strlen(k->valuestring));
	}
	cJSON_Delete(root);
	return rc;
}

/** Write @a doc (printed) to @a path, 0600. */
static int
save_json(const char *path, const cJSON *doc, char *err, size_t cap)
{
	char *text = cJSON_Print(doc);
	if (text == NULL) {
		snprintf(err, cap, "%s: out of memory", path);
		return -ENOMEM;
	}
	size_t len = strlen(text);
	int rc = nc_file_write_atomic(path, text, len, 0600);
	memset(text, 0, len);
	cJSON_free(text);
	if (rc < 0)
		snprintf(err, cap, "%s: cannot write: %s", path, strerror(-rc));
	return rc;
}

int
nc__agent_keyring_file_save(const char *path,
			    const struct nc_crypto_keyring *kr, char *err,
			    size_t cap)
{
	cJSON *arr = cJSON_CreateArray();
	int rc = -ENOMEM;
	if (arr == NULL)
		goto oom;
	unsigned n = nc_crypto_keyring_count(kr);
	for (unsigned i = 0; i < n; i++) {
		uint8_t key[NC_CRYPTO_KEY_MAX];
		char b64[64];
		int len = nc_crypto_keyring_get(kr, i, key, sizeof(key));
		int brc = len < 0 ? len
				  : nc_crypto_key_to_base64(key, (size_t)len,
							    b64, sizeof(b64));
		memset(key, 0, sizeof(key));
		cJSON *s = brc < 0 ? NULL : cJSON_CreateString(b64);
		memset(b64, 0, sizeof(b64));
		if (s == NULL)
			goto oom;
		cJSON_AddItemToArray(arr, s);
	}
	rc = save_json(path, arr, err, cap);
	goto out;
oom:
	snprintf(err, cap, "%s: out of memory", path);
out:
	if (arr != NULL) {
		cJSON *k;
		cJSON_ArrayForEach(k, arr)
		{
			memset(k->valuestring, 0, strlen(k->valuestring));
		}
	}
	cJSON_Delete(arr);
	return rc;
}

int
nc__agent_tags_file_save(const char *path, const struct nc_config_tag *tags,
			 size_t n, char *err, size_t cap)
{
	cJSON *obj = cJSON_CreateObject();
	for (size_t i = 0; obj != NULL && i < n; i++) {
		if (cJSON_AddStringToObject(obj, tags[i].key, tags[i].value) ==
		    NULL) {
			cJSON_Delete(obj);
			obj = NULL;
		}
	}
	if (obj == NULL) {
		snprintf(err, cap, "%s: out of memory", path);
		return -ENOMEM;
	}
	int rc = save_json(path, obj, err, cap);
	cJSON_Delete(obj);
	return rc;
}
