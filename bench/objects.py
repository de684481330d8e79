"""objects - what the benchmark puts in the cluster and in pamsim.

Every MonoSecret reads username and password from its own
UserNamePassword vault item, like the user guide's database example, so
a change to one item concerns exactly one MonoSecret. The values are
made up here and never printed.
"""

import base64
import os

API_MS = "/apis/pam.monofor.com/v1alpha1/namespaces/%s/monosecrets"
API_STORE = "/apis/pam.monofor.com/v1alpha1/namespaces/%s/monostores"
API_SECRETS = "/api/v1/namespaces/%s/secrets"
ACCESS_KEY = "0b0e0c0d-bbbb-4000-8000-00000000be9c"


def vault_id(i):
    return "be9c0000-0000-4000-8000-%012d" % i


def msec_name(i):
    return "ms-%05d" % i


def target_name(i):
    return "sec-%05d" % i


def password(i, gen):
    return "pw-%d-%05d-%s" % (gen, i, "x" * 16)


def b64(s):
    return base64.b64encode(s.encode()).decode()


def vaults(n, gen=0, changed=()):
    """vaults - the item set for n MonoSecrets; items in `changed` get the
    password of generation gen+1."""
    changed = set(changed)
    return [{"id": vault_id(i), "type": "UserNamePassword",
             "properties": {"UserName": "user-%05d" % i,
                            "Password": password(i, gen + 1 if i in changed else gen)}}
            for i in range(n)]


def monosecret(ns, i, refresh):
    """monosecret - MonoSecret i: username and password from its own vault item."""
    vid = vault_id(i)
    return {
        "apiVersion": "pam.monofor.com/v1alpha1", "kind": "MonoSecret",
        "metadata": {"name": msec_name(i), "namespace": ns},
        "spec": {
            "monoStoreRef": {"name": "pam"},
            "target": {"name": target_name(i)},
            "refreshInterval": refresh,
            "data": [
                {"secretKey": "username", "remoteRef": {"vaultID": vid, "property": "UserName"}},
                {"secretKey": "password", "remoteRef": {"vaultID": vid, "property": "Password"}},
            ],
        },
    }


def raw_secret(ns, i):
    """raw_secret - what a plain client writes: the same two keys, the same
    sizes as the operator's Secret, with no controller around it."""
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "raw-%05d" % i, "namespace": ns}, "type": "Opaque",
            "data": {"username": b64("user-%05d" % i), "password": b64(password(i, 0))}}


def unrelated_secret(ns, i, size):
    """unrelated_secret - a large Secret the operator has no business with."""
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "unrelated-%05d" % i, "namespace": ns}, "type": "Opaque",
            "data": {"blob": base64.b64encode(os.urandom(size)).decode()}}


def store_objects(ns, url):
    """store_objects - the access-key Secret and MonoStore "pam" in ns."""
    key = {"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "pam-access-key", "namespace": ns},
           "data": {"key": b64(ACCESS_KEY)}}
    store = {"apiVersion": "pam.monofor.com/v1alpha1", "kind": "MonoStore",
             "metadata": {"name": "pam", "namespace": ns},
             "spec": {"provider": {"monoforPAM": {"url": url, "auth": {
                 "accessKeySecretRef": {"name": "pam-access-key", "key": "key",
                                        "namespace": ns}}}}}}
    return key, store
