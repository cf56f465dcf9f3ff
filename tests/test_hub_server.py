"""The local Hub-protocol server, driven by the real `huggingface_hub` client over HTTP.

These tests pin the behaviour the publishing tests rely on: revisions are real snapshots, the server stores
and serves exactly what was uploaded (and refuses content that does not match its LFS oid), writes need the
write token, and injected faults happen exactly when asked.
"""

from __future__ import annotations

import hashlib
import os

import pytest


@pytest.fixture
def api(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=hub.token)


def _commit(api, repo_id, files: dict[str, bytes], message="update", **kwargs):
    from huggingface_hub import CommitOperationAdd

    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=data) for p, data in files.items()]
    return api.create_commit(repo_id, operations=ops, commit_message=message, **kwargs)


def test_plugin_points_every_client_at_the_server(hub):
    from huggingface_hub import constants

    assert os.environ["HF_ENDPOINT"] == hub.endpoint == constants.ENDPOINT
    assert constants.HF_HUB_DISABLE_XET
    assert constants.HF_HUB_CACHE.startswith(os.environ["HF_HOME"])
    assert "HF_TOKEN" not in os.environ
    assert hub.token != hub.read_token


def test_commits_are_real_revisions(hub, api):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.hf_api import RepoFile, RepoFolder

    repo_id = "instructerc/server-revisions"
    api.create_repo(repo_id)
    weights_v1, weights_v2 = os.urandom(3000), os.urandom(5000)  # binary => LFS
    first = _commit(api, repo_id, {"README.md": b"---\nlicense: mit\n---\n# v1\n", "sub/w.bin": weights_v1})
    second = _commit(api, repo_id, {"sub/w.bin": weights_v2})

    assert [c.commit_id for c in api.list_repo_commits(repo_id)][:2] == [second.oid, first.oid]
    assert len(hub.commits(repo_id)) == 3  # + the initial commit with .gitattributes

    tree = {f.path: f for f in api.list_repo_tree(repo_id, recursive=True)}
    assert isinstance(tree["sub"], RepoFolder) and isinstance(tree["sub/w.bin"], RepoFile)
    assert tree["sub/w.bin"].lfs.sha256 == hashlib.sha256(weights_v2).hexdigest()
    assert tree["sub/w.bin"].size == 5000 and tree["README.md"].lfs is None
    top = [f.path for f in api.list_repo_tree(repo_id)]
    assert sorted(top) == [".gitattributes", "README.md", "sub"]
    (info,) = api.get_paths_info(repo_id, ["sub/w.bin", "missing"], expand=True)
    assert info.last_commit.oid == second.oid

    # main serves the new bytes, the first commit still serves the old ones
    assert open(hf_hub_download(repo_id, "sub/w.bin"), "rb").read() == weights_v2
    assert open(hf_hub_download(repo_id, "sub/w.bin", revision=first.oid), "rb").read() == weights_v1
    assert api.model_info(repo_id, revision=first.oid).sha == first.oid
    assert api.file_exists(repo_id, "README.md") and not api.file_exists(repo_id, "nope.txt")
    assert hub.files(repo_id)["sub/w.bin"] == weights_v2


def test_resolve_headers_and_ranges(hub, api):
    from huggingface_hub import get_session

    repo_id = "instructerc/server-resolve"
    api.create_repo(repo_id)
    data = os.urandom(1000)
    commit = _commit(api, repo_id, {"x.safetensors": data, "notes.txt": b"hello"})
    base = f"{hub.endpoint}/{repo_id}/resolve/main"

    head = get_session().head(f"{base}/x.safetensors")
    assert head.status_code == 200 and head.headers["X-Repo-Commit"] == commit.oid
    assert head.headers["X-Linked-Etag"].strip('"') == hashlib.sha256(data).hexdigest()
    assert int(head.headers["Content-Length"]) == 1000
    part = get_session().get(f"{base}/x.safetensors", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    missing = get_session().head(f"{base}/nope.txt")
    assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "EntryNotFound"
    assert missing.headers["X-Repo-Commit"] == commit.oid


def test_writes_need_the_write_token_and_private_repos_need_a_token(hub):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    with pytest.raises(HfHubHTTPError) as anonymous:
        HfApi(endpoint=hub.endpoint, token=False).create_repo("instructerc/server-auth")
    assert anonymous.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as read_only:
        HfApi(endpoint=hub.endpoint, token=hub.read_token).create_repo("instructerc/server-auth")
    assert read_only.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as stranger:
        HfApi(endpoint=hub.endpoint, token=hub.token).create_repo("someone-else/server-auth")
    assert stranger.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as invalid:
        HfApi(endpoint=hub.endpoint, token="hf_" + "x" * 34).whoami()
    assert invalid.value.response.status_code == 401

    HfApi(endpoint=hub.endpoint, token=hub.token).create_repo("instructerc/server-private", private=True)
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub.endpoint, token=False).model_info("instructerc/server-private")
    assert HfApi(endpoint=hub.endpoint, token=hub.read_token).model_info("instructerc/server-private").private
    assert not hub.has_repo("instructerc/server-auth")


def test_upload_not_matching_its_oid_is_refused(hub, api):
    """The server never keeps content that does not hash to the announced LFS oid."""
    from huggingface_hub import get_session

    repo_id = "instructerc/server-integrity"
    api.create_repo(repo_id, repo_type="dataset")
    data = os.urandom(2048)
    oid = hashlib.sha256(data).hexdigest()
    headers = {"Authorization": f"Bearer {hub.token}", "Accept": "application/vnd.git-lfs+json"}
    batch = get_session().post(
        f"{hub.endpoint}/datasets/{repo_id}.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": 2048}]},
        headers=headers,
    )
    href = batch.json()["objects"][0]["actions"]["upload"]["href"]
    assert get_session().put(href, content=data[:1024] + bytes(1024)).status_code == 400
    commit = get_session().post(
        f"{hub.endpoint}/api/datasets/{repo_id}/commit/main",
        content=b'{"key":"header","value":{"summary":"x"}}\n'
        + f'{{"key":"lfsFile","value":{{"path":"x.parquet","algo":"sha256","oid":"{oid}","size":2048}}}}\n'.encode(),
        headers={**headers, "Content-Type": "application/x-ndjson"},
    )
    assert commit.status_code == 400 and "never uploaded" in commit.json()["error"]
    assert get_session().put(href, content=data).status_code == 200  # the right bytes are accepted
    assert len(hub.commits(repo_id, "dataset")) == 1


def test_injected_faults_fire_exactly_as_asked(hub, api):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    repo_id = "instructerc/server-faults"
    api.create_repo(repo_id)
    hub.inject_fault("commit", status=500, times=1)
    with pytest.raises(HfHubHTTPError) as failed:
        _commit(api, repo_id, {"a.txt": b"a"})
    assert failed.value.response.status_code == 500
    assert len(hub.commits(repo_id)) == 1  # nothing was committed
    _commit(api, repo_id, {"a.txt": b"a"})
    assert [r.status for r in hub.calls("commit")][-2:] == [500, 200]

    # An upload cut half-way is retried by huggingface_hub's backoff, and only the full content is kept.
    data = os.urandom(4096)
    hub.cut_upload_short()
    _commit(api, repo_id, {"w.bin": data})
    assert [r.status for r in hub.calls("lfs_upload")][-2:] == [0, 200]  # 0: connection dropped, no answer
    assert open(hf_hub_download(repo_id, "w.bin"), "rb").read() == data


def test_invalid_card_metadata_is_rejected_before_upload(hub, api):
    repo_id = "instructerc/server-yaml"
    api.create_repo(repo_id)
    with pytest.raises(ValueError, match="Invalid metadata"):
        _commit(api, repo_id, {"README.md": b"---\n- just\n- a list\n---\n"})
    assert not [r for r in hub.calls("preupload") if "/server-yaml/" in r.path]
    assert [r.status for r in hub.calls("validate_yaml")][-1] == 400
