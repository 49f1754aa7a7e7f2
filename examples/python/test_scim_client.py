"""scimlab as the SCIM target of a Python test, with the standard library only.

Run: SCIMLAB_BIN=path/to/scimlab python3 -m unittest examples/python/test_scim_client.py
"""
import json
import os
import subprocess
import tempfile
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, "..", "seed.json")
TOKEN, ADMIN = "py-token", "py-admin"


def call(method, url, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", "Bearer " + token)
    if data is not None:
        request.add_header("Content-Type", "application/scim+json")
    try:
        with urllib.request.urlopen(request) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read().decode() or "null")


class ScimClientAgainstScimlab(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = os.environ.get("SCIMLAB_BIN", "scimlab")
        cls.work = tempfile.TemporaryDirectory()
        ready_file = os.path.join(cls.work.name, "ready.json")
        cls.server = subprocess.Popen(
            [binary, "serve", "--addr", "127.0.0.1:0", "--in-memory", "--token", TOKEN,
             "--admin-token", ADMIN, "--seed", SEED, "--ready-file", ready_file],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready = json.loads(cls.server.stdout.readline())
        assert ready["event"] == "ready", ready
        # The ready file is written before the line is printed, for harnesses without a pipe.
        with open(ready_file) as f:
            assert json.load(f) == ready
        cls.base, cls.admin = ready["url"], ready["admin"]

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait()
        cls.work.cleanup()

    def setUp(self):
        status, _ = call("POST", self.admin + "/reset?seed=true", ADMIN)
        self.assertEqual(status, 200)

    def test_the_seeded_user_is_there_and_a_patch_is_recorded(self):
        status, ada = call("GET", self.base + "/Users/u-ada", TOKEN)
        self.assertEqual(status, 200)
        self.assertEqual(ada["userName"], "ada@example.com")
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                 "Operations": [{"op": "replace", "path": "active", "value": False}]}
        status, patched = call("PATCH", self.base + "/Users/u-ada", TOKEN, patch)
        self.assertEqual(status, 200)
        self.assertFalse(patched["active"])
        status, seen = call("GET", self.admin + "/requests?method=PATCH&path=/Users&wait=5s", ADMIN)
        self.assertEqual(status, 200)
        self.assertEqual(len(seen["requests"]), 1)
        self.assertEqual(seen["requests"][0]["requestBody"]["Operations"][0]["path"], "active")

    def test_reset_brings_back_the_seed(self):
        status, _ = call("DELETE", self.base + "/Users/u-ada", TOKEN)
        self.assertEqual(status, 204)
        call("POST", self.admin + "/reset?seed=true", ADMIN)
        status, group = call("GET", self.base + "/Groups/g-eng", TOKEN)
        self.assertEqual(status, 200)
        self.assertEqual([m["value"] for m in group["members"]], ["u-ada"])


if __name__ == "__main__":
    unittest.main()
