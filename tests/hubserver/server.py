"""A small, honest Hugging Face Hub-protocol server for tests.

It speaks the HTTP API that `huggingface_hub` (2.x), `datasets` and `peft` use against `HF_ENDPOINT` (the
endpoints: `_route`), so tests exercise the real client libraries over real HTTP instead of mocking them.
Honest: old revisions stay readable, uploads are checked and served as uploaded, writes need the write token
(`HubState`); faults can be injected per endpoint kind (`HubServer.inject_fault`). Xet is not implemented.

Usage:

    hub = HubServer().start()   # clients with HF_ENDPOINT=hub.endpoint, HF_HUB_DISABLE_XET=1, HF_TOKEN=hub.token
    hub.inject_fault("commit", status=502, apply_first=True)   # committed, but the client sees a 502
    hub.stop()
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import secrets
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml


REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
REGULAR_FILE_MAX_SIZE = 10 * 1024 * 1024  # larger files must go through LFS, as on the Hub
LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"
# The Hub seeds new repos with a .gitattributes that routes binary formats to LFS; this is a subset of it.
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z",
        "*.arrow",
        "*.bin",
        "*.bz2",
        "*.ckpt",
        "*.ftz",
        "*.gz",
        "*.h5",
        "*.joblib",
        "*.lz4",
        "*.mlmodel",
        "*.model",
        "*.msgpack",
        "*.npy",
        "*.npz",
        "*.onnx",
        "*.ot",
        "*.parquet",
        "*.pb",
        "*.pickle",
        "*.pkl",
        "*.pt",
        "*.pth",
        "*.rar",
        "*.safetensors",
        "saved_model/**/*",
        "*.tar.*",
        "*.tar",
        "*.tflite",
        "*.tgz",
        "*.wasm",
        "*.xz",
        "*.zip",
        "*.zst",
        "*tfevents*",
    )
)
USER = "instructerc-bot"
ORGS = ("instructerc",)


def git_blob_oid(data: bytes) -> str:
    """The git object id of a blob (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Entry:
    """One file of a commit's tree."""

    blob: str  # git oid of the stored blob (of the pointer file for LFS entries)
    size: int  # size of the file content
    lfs: str | None = None  # sha256 of the content, for LFS files
    pointer_size: int | None = None


@dataclass
class Commit:
    oid: str
    parents: list[str]
    title: str
    message: str
    date: str
    author: str
    tree: dict[str, Entry]


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    lfs: set[str] = field(default_factory=set)  # LFS objects uploaded to this repo


@dataclass
class Fault:
    kind: str
    times: int
    status: int | None = None
    apply_first: bool = False  # perform the action, then answer `status` (a lost response)
    cut_short: bool = False  # drop the connection half-way through the request body


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    kind: str
    status: int
    authenticated: bool


class HubError(Exception):
    """An HTTP error answer, with the Hub's `X-Error-Code`/`X-Error-Message` headers."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict | None = None,
        extra: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}
        self.extra = extra or {}  # more fields of the JSON error body


class _CutShort(Exception):
    """Raised to drop the connection without an answer."""


class HubState:
    """Repos, commits and blobs, and the logic of every endpoint (no HTTP here).

    Every commit is a stored snapshot addressed by its own id, so old revisions stay readable; uploaded LFS
    objects are checked against their sha256 and size before they are kept, and files are served exactly as
    they were uploaded. Writes need the write token (401 without a token, 403 with the read-only one)."""

    def __init__(self, write_token: str, read_token: str):
        self.lock = threading.RLock()
        self.tokens = {write_token: "write", read_token: "read"}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.blobs: dict[str, bytes] = {}  # git oid -> bytes (regular files and LFS pointers)
        self.lfs_objects: dict[str, bytes] = {}  # sha256 -> bytes
        self.tickets: dict[str, tuple[tuple[str, str], str, int]] = {}  # upload ticket -> (repo key, oid, size)
        self._counter = 0

    # -- auth -------------------------------------------------------------------------------------------------
    def role(self, authorization: str | None) -> str | None:
        if not authorization:
            return None
        token = authorization.removeprefix("Bearer ").strip()
        if token not in self.tokens:
            raise HubError(401, "Invalid credentials in Authorization header")
        return self.tokens[token]

    @staticmethod
    def require_write(role: str | None, namespace: str) -> None:
        if role is None:
            raise HubError(401, "You must be authenticated to access this resource.")
        if role != "write":
            raise HubError(403, "This token has read access only; write access is required.")
        if namespace not in (USER, *ORGS):
            raise HubError(403, f'You don\'t have the rights to write under the namespace "{namespace}"')

    def get_repo(self, repo_type: str, repo_id: str, role: str | None) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and role is None):
            # The Hub answers 401 to anonymous requests for missing or private repos, 404 otherwise.
            raise HubError(404 if role else 401, "Repository not found", code="RepoNotFound")
        return repo

    # -- git-like storage -------------------------------------------------------------------------------------
    def _store_blob(self, data: bytes) -> str:
        oid = git_blob_oid(data)
        self.blobs[oid] = data
        return oid

    def _lfs_entry(self, sha256: str, size: int) -> Entry:
        pointer = LFS_POINTER.format(oid=sha256, size=size).encode()
        return Entry(blob=self._store_blob(pointer), size=size, lfs=sha256, pointer_size=len(pointer))

    def _new_commit(self, repo: Repo, branch: str, tree: dict[str, Entry], title: str, message: str) -> Commit:
        self._counter += 1
        parents = [repo.branches[branch]] if branch in repo.branches else []
        date = _now()
        payload = json.dumps(
            [parents, sorted((p, e.blob) for p, e in tree.items()), title, message, date, self._counter]
        )
        commit = Commit(hashlib.sha1(payload.encode()).hexdigest(), parents, title, message, date, USER, tree)
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        return commit

    def resolve(self, repo: Repo, revision: str) -> Commit:
        revision = revision.removeprefix("refs/heads/")
        if revision in repo.branches:
            return repo.commits[repo.branches[revision]]
        if re.fullmatch(r"[0-9a-f]{7,40}", revision):
            matches = [oid for oid in repo.commits if oid.startswith(revision)]
            if len(matches) == 1:
                return repo.commits[matches[0]]
        raise HubError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")

    def content(self, entry: Entry) -> bytes:
        return self.lfs_objects[entry.lfs] if entry.lfs else self.blobs[entry.blob]

    @staticmethod
    def _dirs(tree: dict[str, Entry]) -> set[str]:
        return {"/".join(p.split("/")[:i]) for p in tree for i in range(1, p.count("/") + 1)}

    @staticmethod
    def _tree_oid(tree: dict[str, Entry], folder: str) -> str:
        prefix = folder + "/"
        items = sorted((p, e.blob) for p, e in tree.items() if p.startswith(prefix))
        return hashlib.sha1(json.dumps(items).encode()).hexdigest()

    def _last_commit(self, repo: Repo, commit: Commit, path: str) -> Commit:
        """Walk first parents back to the last commit that changed `path` (a file or a folder)."""

        def view(c: Commit):
            return {p: e.blob for p, e in c.tree.items() if p == path or p.startswith(path + "/")}

        current = commit
        while current.parents:
            parent = repo.commits[current.parents[0]]
            if view(parent) != view(current):
                return current
            current = parent
        return current

    def _path_info(self, repo: Repo, commit: Commit, path: str, expand: bool) -> dict | None:
        if path in commit.tree:
            entry = commit.tree[path]
            info = {"type": "file", "oid": entry.blob, "size": entry.size, "path": path}
            if entry.lfs:
                info["lfs"] = {"oid": entry.lfs, "size": entry.size, "pointerSize": entry.pointer_size}
        elif path in self._dirs(commit.tree):
            info = {"type": "directory", "oid": self._tree_oid(commit.tree, path), "size": 0, "path": path}
        else:
            return None
        if expand:
            last = self._last_commit(repo, commit, path)
            info["lastCommit"] = {"id": last.oid, "title": last.title, "date": last.date}
        return info

    def _is_lfs(self, tree: dict[str, Entry], path: str, size: int, sample: bytes) -> bool:
        if size > REGULAR_FILE_MAX_SIZE or b"\x00" in sample:
            return True
        attributes = tree.get(".gitattributes")
        patterns = []
        if attributes is not None:
            for line in self.content(attributes).decode().splitlines():
                parts = line.split()
                if len(parts) > 1 and "filter=lfs" in parts[1:]:
                    patterns.append(parts[0])
        name = path.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatch(path if "/" in pattern else name, pattern) for pattern in patterns)

    # -- endpoints ----------------------------------------------------------------------------------------------
    def create_repo(self, body: dict, role: str | None, endpoint: str) -> dict:
        namespace, name = body.get("organization") or USER, body["name"]
        repo_type = body.get("type") or "model"
        self.require_write(role, namespace)
        repo_id = f"{namespace}/{name}"
        url = f"{endpoint}/{URL_PREFIX[repo_type]}{repo_id}"
        if (repo_type, repo_id) in self.repos:
            raise HubError(409, f"You already created this {repo_type} repo", extra={"url": url})
        private = body.get("visibility") == "private" or bool(body.get("private"))
        repo = Repo(repo_type, repo_id, private, _now())
        self.repos[(repo_type, repo_id)] = repo
        tree = {".gitattributes": Entry(self._store_blob(DEFAULT_GITATTRIBUTES.encode()), len(DEFAULT_GITATTRIBUTES))}
        self._new_commit(repo, "main", tree, "initial commit", "")
        return {"url": url, "name": repo_id, "id": hashlib.sha1(repo_id.encode()).hexdigest()[:24]}

    def repo_info(self, repo: Repo, revision: str, blobs: bool) -> dict:
        commit = self.resolve(repo, revision)
        siblings = []
        for path, entry in sorted(commit.tree.items()):
            sibling: dict = {"rfilename": path}
            if blobs:
                sibling.update(size=entry.size, blobId=entry.blob)
                if entry.lfs:
                    sibling["lfs"] = {"size": entry.size, "sha256": entry.lfs, "pointerSize": entry.pointer_size}
            siblings.append(sibling)
        card = {}
        if "README.md" in commit.tree:
            card = _front_matter(self.content(commit.tree["README.md"]).decode(errors="replace")) or {}
            card = card if isinstance(card, dict) else {}
        info = {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": list(card.get("tags") or []),
            "cardData": card,
            "siblings": siblings,
            "usedStorage": sum(e.size for e in commit.tree.values()),
        }
        if repo.repo_type == "model":
            info.update(
                modelId=repo.repo_id, library_name=card.get("library_name"), pipeline_tag=card.get("pipeline_tag")
            )
        return info

    def tree(self, repo: Repo, revision: str, path: str, recursive: bool, expand: bool) -> list[dict]:
        commit = self.resolve(repo, revision)
        path = path.strip("/")
        dirs = self._dirs(commit.tree)
        if path and path not in dirs:
            raise HubError(404, f"Entry not found: {path}", code="EntryNotFound")
        prefix = path + "/" if path else ""
        children = set()
        for candidate in list(commit.tree) + sorted(dirs):
            if not candidate.startswith(prefix) or candidate == path:
                continue
            if recursive or "/" not in candidate[len(prefix) :]:
                children.add(candidate)
        infos = [self._path_info(repo, commit, child, expand) for child in sorted(children)]
        return sorted(infos, key=lambda info: (info["type"] != "directory", info["path"]))

    def paths_info(self, repo: Repo, revision: str, paths: list[str], expand: bool) -> list[dict]:
        commit = self.resolve(repo, revision)
        infos = [self._path_info(repo, commit, path.strip("/"), expand) for path in paths]
        return [info for info in infos if info is not None]

    def preupload(self, repo: Repo, revision: str, body: dict) -> dict:
        commit = self.resolve(repo, revision)
        files = []
        for item in body.get("files", []):
            path, size = item["path"], int(item["size"])
            sample = base64.b64decode(item.get("sample", ""))
            lfs = self._is_lfs(commit.tree, path, size, sample)
            remote = commit.tree.get(path)
            oid = None
            if remote is not None:
                oid = remote.lfs if remote.lfs else remote.blob
            files.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        return {"files": files, "commitOid": commit.oid}

    def lfs_batch(self, repo: Repo, body: dict, endpoint: str) -> dict:
        if body.get("operation") != "upload":
            raise HubError(400, "only the upload operation is supported by this server")
        objects = []
        for obj in body.get("objects", []):
            oid, size = obj.get("oid"), obj.get("size")
            if not (isinstance(oid, str) and re.fullmatch(r"[0-9a-f]{64}", oid) and isinstance(size, int)):
                objects.append({"oid": str(oid), "size": int(size or 0), "error": {"code": 422, "message": "bad oid"}})
                continue
            answer: dict = {"oid": oid, "size": size, "authenticated": True}
            if oid not in repo.lfs:
                ticket = secrets.token_urlsafe(16)
                self.tickets[ticket] = ((repo.repo_type, repo.repo_id), oid, size)
                git_url = f"{endpoint}/{URL_PREFIX[repo.repo_type]}{repo.repo_id}.git/info/lfs/objects"
                answer["actions"] = {
                    "upload": {"href": f"{endpoint}/_lfs/upload/{ticket}"},
                    "verify": {"href": f"{git_url}/verify"},
                }
            objects.append(answer)
        return {"transfer": "basic", "objects": objects, "hash_algo": "sha256"}

    def lfs_store(self, ticket: str, data: bytes) -> None:
        if ticket not in self.tickets:
            raise HubError(403, "Unknown or expired upload URL")
        key, oid, size = self.tickets[ticket]
        if len(data) != size or hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, f"Uploaded content does not match its oid/size (got {len(data)} of {size} bytes)")
        self.lfs_objects[oid] = data
        self.repos[key].lfs.add(oid)

    def lfs_verify(self, repo: Repo, body: dict) -> dict:
        oid, size = body.get("oid"), body.get("size")
        if oid not in repo.lfs or len(self.lfs_objects[oid]) != size:
            raise HubError(404, f"LFS object {oid} not found")
        return {"oid": oid, "size": size}

    def commit(self, repo: Repo, revision: str, ndjson: bytes, endpoint: str) -> dict:
        if revision not in repo.branches:
            raise HubError(404, f"Invalid rev id: {revision} is not a branch", code="RevisionNotFound")
        lines = [json.loads(line) for line in ndjson.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "The commit payload must start with a header line")
        header = lines[0]["value"]
        head = repo.commits[repo.branches[revision]]
        parent = header.get("parentCommit")
        if parent is not None and parent != head.oid:
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        tree = dict(head.tree)
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            path = value["path"].lstrip("/")
            if key == "file":
                data = (
                    base64.b64decode(value["content"])
                    if value.get("encoding") == "base64"
                    else value["content"].encode()
                )
                tree[path] = Entry(self._store_blob(data), len(data))
            elif key == "lfsFile":
                oid = value["oid"]
                if oid not in repo.lfs:
                    raise HubError(400, f"LFS object for '{path}' was never uploaded to this repo")
                size = len(self.lfs_objects[oid])
                if value.get("size") is not None and int(value["size"]) != size:
                    raise HubError(400, f"LFS object size mismatch for '{path}'")
                tree[path] = self._lfs_entry(oid, size)
            elif key == "deletedFile":
                if path not in tree:
                    raise HubError(404, "A file with this name doesn't exist", code="EntryNotFound")
                del tree[path]
            elif key == "deletedFolder":
                doomed = [p for p in tree if p.startswith(path.rstrip("/") + "/")]
                if not doomed:
                    raise HubError(404, "A folder with this name doesn't exist", code="EntryNotFound")
                for p in doomed:
                    del tree[p]
            else:
                raise HubError(400, f"Unknown commit operation {key!r}")
        commit = self._new_commit(repo, revision, tree, header.get("summary") or "", header.get("description") or "")
        url = f"{endpoint}/{URL_PREFIX[repo.repo_type]}{repo.repo_id}/commit/{commit.oid}"
        return {"success": True, "commitOid": commit.oid, "commitUrl": url, "hookOutput": "", "pullRequestUrl": None}

    def commits(self, repo: Repo, revision: str) -> list[dict]:
        commit, history = self.resolve(repo, revision), []
        while True:
            history.append(
                {
                    "id": commit.oid,
                    "title": commit.title,
                    "message": commit.message,
                    "authors": [{"user": commit.author, "avatar": ""}],
                    "date": commit.date,
                }
            )
            if not commit.parents:
                return history
            commit = repo.commits[commit.parents[0]]

    def create_branch(self, repo: Repo, branch: str, body: dict) -> dict:
        if branch in repo.branches:
            raise HubError(409, "Reference already exists")
        start = self.resolve(repo, body.get("startingPoint") or "main")
        repo.branches[branch] = start.oid
        return {}


def _front_matter(text: str):
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.S)
    return yaml.safe_load(match.group(1)) if match else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid the delayed-ACK stall
    server: _Server

    def log_message(self, format, *args):  # keep test output quiet
        pass

    # -- plumbing ----------------------------------------------------------------------------------------------
    def _read_body(self, cut_short: bool = False) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
                if cut_short:
                    raise _CutShort
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if cut_short:
            self.rfile.read(length // 2)
            raise _CutShort
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body=b"", headers: dict | None = None, content_type: str | None = None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.send_header("Content-Type", content_type or "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _drop_connection(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self) -> None:
        hub: HubServer = self.server.hub
        state = hub.state
        split = urlsplit(self.path)
        segments = [unquote(s) for s in split.path.strip("/").split("/")] if split.path.strip("/") else []
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        kind, answer = "unknown", None  # answer: (status, payload, headers, content type); None drops the connection
        try:
            route = _route(self.command, segments)
            kind = route[0]
            fault = hub._take_fault(kind)
            if fault is not None and fault.cut_short:
                self._read_body(cut_short=True)
            if fault is not None and fault.status is not None and not fault.apply_first:
                self._read_body()
                raise HubError(fault.status, f"Injected fault on {kind}")
            body = self._read_body()
            with state.lock:
                role = state.role(self.headers.get("Authorization"))
                answer = self._dispatch(route, body, query, role)
            if fault is not None and fault.apply_first:
                raise HubError(fault.status or 500, f"Injected fault on {kind} (after applying it)")
        except _CutShort:
            answer = None
        except HubError as err:
            headers = {"X-Error-Message": err.message, **err.headers}
            if err.code:
                headers["X-Error-Code"] = err.code
            answer = (err.status, {"error": err.message, **err.extra}, headers, None)
        except Exception as err:  # a bug in this server: answer 500 and keep it for the test to see
            hub.errors.append(f"{self.command} {self.path}: {err!r}")
            self.close_connection = True
            answer = (500, {"error": f"test server bug: {err!r}"}, {}, None)
        # Log before answering, so that a client that got its answer always finds its request in the log.
        status = answer[0] if answer else 0
        hub._log(Request(self.command, split.path, kind, status, bool(self.headers.get("Authorization"))))
        if answer is None:
            self._drop_connection()
        else:
            self._send(*answer)

    def _dispatch(self, route, body: bytes, query: dict, role):
        hub: HubServer = self.server.hub
        state, endpoint = hub.state, hub.endpoint
        kind, repo_type, repo_id, rest = route
        flag = lambda name: query.get(name, "").lower() in ("1", "true")  # noqa: E731

        if kind == "whoami":
            if role is None:
                raise HubError(401, "Invalid credentials in Authorization header")
            orgs = [{"name": org, "type": "org"} for org in ORGS]
            access = {"displayName": f"test-{role}", "role": role}
            return 200, {"type": "user", "name": USER, "orgs": orgs, "auth": {"accessToken": access}}, {}, None
        if kind == "validate_yaml":
            return _validate_yaml(json.loads(body or b"{}"))
        if kind == "create_repo":
            return 200, state.create_repo(json.loads(body), role, endpoint), {}, None
        if kind == "lfs_upload":
            state.lfs_store(rest[0], body)
            return 200, b"", {}, "text/plain"
        if kind == "not_found":
            raise HubError(404, "Not Found")

        repo = state.get_repo(repo_type, repo_id, role)
        write = kind in ("preupload", "commit", "lfs_batch", "lfs_verify", "branch", "delete_branch")
        if write:
            state.require_write(role, repo_id.split("/")[0])
        if kind == "repo_info":
            return 200, state.repo_info(repo, rest[0] if rest else "main", flag("blobs")), {}, None
        if kind == "tree":
            return 200, state.tree(repo, rest[0], "/".join(rest[1:]), flag("recursive"), flag("expand")), {}, None
        if kind == "paths_info":
            form = parse_qs(body.decode())
            expand = form.get("expand", ["false"])[-1].lower() in ("1", "true")
            return 200, state.paths_info(repo, rest[0], form.get("paths", []), expand), {}, None
        if kind == "preupload":
            return 200, state.preupload(repo, rest[0], json.loads(body)), {}, None
        if kind == "lfs_batch":
            return 200, state.lfs_batch(repo, json.loads(body), endpoint), {}, "application/vnd.git-lfs+json"
        if kind == "lfs_verify":
            return 200, state.lfs_verify(repo, json.loads(body)), {}, "application/vnd.git-lfs+json"
        if kind == "commit":
            if query.get("create_pr"):
                raise HubError(400, "Pull requests are not supported by this test server")
            return 200, state.commit(repo, rest[0], body, endpoint), {}, None
        if kind == "commits":
            return 200, state.commits(repo, rest[0] if rest else "main"), {}, None
        if kind == "refs":
            branches = [
                {"name": name, "ref": f"refs/heads/{name}", "targetCommit": oid} for name, oid in repo.branches.items()
            ]
            return 200, {"branches": branches, "converts": [], "tags": [], "pullRequests": []}, {}, None
        if kind == "branch":
            return 200, state.create_branch(repo, rest[0], json.loads(body or b"{}")), {}, None
        if kind == "delete_branch":
            if rest[0] == "main" or rest[0] not in repo.branches:
                raise HubError(400 if rest[0] == "main" else 404, f"Cannot delete branch {rest[0]}")
            del repo.branches[rest[0]]
            return 200, {}, {}, None
        if kind == "resolve":
            return self._resolve(repo, rest[0], "/".join(rest[1:]))
        raise HubError(404, "Not Found")

    def _resolve(self, repo: Repo, revision: str, path: str):
        state = self.server.hub.state
        commit = state.resolve(repo, revision)
        entry = commit.tree.get(path)
        if entry is None:
            raise HubError(404, "Entry not found", code="EntryNotFound", headers={"X-Repo-Commit": commit.oid})
        data = state.content(entry)
        etag = entry.lfs or entry.blob
        headers = {"ETag": f'"{etag}"', "X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes"}
        if entry.lfs:
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": entry.size})
        status = 200
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if match and (match.group(1) or match.group(2)):
            start = int(match.group(1)) if match.group(1) else max(len(data) - int(match.group(2)), 0)
            end = int(match.group(2)) if match.group(1) and match.group(2) else len(data) - 1
            if start >= len(data) and len(data) > 0:
                raise HubError(416, "Range not satisfiable", headers={"Content-Range": f"bytes */{len(data)}"})
            end = min(end, len(data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data, status = data[start : end + 1], 206
        return status, data, headers, "application/octet-stream"

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle


def _route(method: str, s: list[str]):
    """Map a request to (kind, repo_type, repo_id, rest-of-path). Unknown routes map to `not_found` (a 404, e.g.
    `/api/agent-harnesses`). The routes:

    * repos: `POST /api/repos/create`, `GET /api/{type}s/{id}[/revision/{rev}]`, `GET .../refs`,
      `POST|DELETE .../branch/{name}`, `GET .../commits/{rev}`;
    * files: `GET .../tree/{rev}[/{path}]`, `POST .../paths-info/{rev}`, `GET|HEAD /{prefix}{id}/resolve/{rev}/{path}`
      (with `ETag`, `X-Repo-Commit`, `X-Linked-Etag`/`X-Linked-Size` for LFS files, and byte ranges);
    * uploads: `POST .../preupload/{rev}`, the git-LFS batch API (`/{prefix}{id}.git/info/lfs/objects/batch`) with
      single-part `PUT` uploads and `verify`, and the NDJSON `POST .../commit/{rev}`;
    * misc: `POST /api/validate-yaml`, `GET /api/whoami-v2`.
    """
    nothing = ("not_found", None, None, [])
    if s[:1] == ["api"]:
        if s == ["api", "whoami-v2"] and method == "GET":
            return ("whoami", None, None, [])
        if s == ["api", "validate-yaml"] and method == "POST":
            return ("validate_yaml", None, None, [])
        if s == ["api", "repos", "create"] and method == "POST":
            return ("create_repo", None, None, [])
        if len(s) >= 4 and s[1] in REPO_TYPES:
            repo_type, repo_id, action, rest = REPO_TYPES[s[1]], f"{s[2]}/{s[3]}", s[4:5], s[5:]
            table = {
                ("GET", ""): "repo_info",
                ("GET", "revision"): "repo_info",
                ("GET", "tree"): "tree",
                ("POST", "paths-info"): "paths_info",
                ("POST", "preupload"): "preupload",
                ("POST", "commit"): "commit",
                ("GET", "commits"): "commits",
                ("GET", "refs"): "refs",
                ("POST", "branch"): "branch",
                ("DELETE", "branch"): "delete_branch",
            }
            kind = table.get((method, action[0] if action else ""))
            if kind is None or (kind in ("tree", "paths_info", "preupload", "commit", "branch") and not rest):
                return nothing
            return (kind, repo_type, repo_id, rest)
        return nothing
    if s[:2] == ["_lfs", "upload"] and len(s) == 3 and method == "PUT":
        return ("lfs_upload", None, None, s[2:])
    repo_type = "model"
    if s[:1] in (["datasets"], ["spaces"]):
        repo_type, s = REPO_TYPES[s[0]], s[1:]
    if len(s) >= 2 and s[1].endswith(".git") and s[2:5] == ["info", "lfs", "objects"] and method == "POST":
        repo_id = f"{s[0]}/{s[1][: -len('.git')]}"
        if s[5:] == ["batch"]:
            return ("lfs_batch", repo_type, repo_id, [])
        if s[5:] == ["verify"]:
            return ("lfs_verify", repo_type, repo_id, [])
    if len(s) >= 5 and s[2] == "resolve" and method in ("GET", "HEAD"):
        return ("resolve", repo_type, f"{s[0]}/{s[1]}", s[3:])
    return nothing


def _validate_yaml(body: dict):
    try:
        metadata = _front_matter(body.get("content", ""))
    except yaml.YAMLError as err:
        return 400, {"errors": [{"message": f"Invalid YAML in the metadata block: {err}"}]}, {}, None
    if metadata is None:
        return 200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata in repo card"}]}, {}, None
    if not isinstance(metadata, dict):
        return 400, {"errors": [{"message": "The metadata block must be a YAML mapping"}]}, {}, None
    return 200, {"errors": [], "warnings": []}, {}, None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    hub: HubServer


class HubServer:
    """The Hub double: `start()`, point `HF_ENDPOINT` at `.endpoint`, write with `.token`, `stop()`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.token = "hf_" + "w" * 4 + secrets.token_hex(16)  # looks like a real token, so leaks are detectable
        self.read_token = "hf_" + "r" * 4 + secrets.token_hex(16)
        self.state = HubState(self.token, self.read_token)
        self.requests: list[Request] = []
        self.errors: list[str] = []  # unexpected exceptions inside the server (bugs), for debugging
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.hub = self
        self.endpoint = f"http://{host}:{self._httpd.server_address[1]}"
        self._thread: threading.Thread | None = None

    def start(self) -> HubServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- fault injection ----------------------------------------------------------------------------------------
    def inject_fault(
        self,
        kind: str,
        *,
        status: int | None = 500,
        times: int = 1,
        apply_first: bool = False,
        cut_short: bool = False,
    ) -> None:
        """Make the next `times` requests of `kind` fail.

        `kind` is an endpoint name as logged in `requests` (`commit`, `preupload`, `lfs_batch`, `lfs_upload`,
        `create_repo`, `repo_info`, `tree`, `paths_info`, `resolve`, ...). With `apply_first`, the action is
        performed before `status` is returned (a response lost after the fact). With `cut_short`, the connection is
        dropped after half of the request body was read, without any answer.
        """
        with self._lock:
            self._faults.append(Fault(kind, times, None if cut_short else status, apply_first, cut_short))

    def cut_upload_short(self, times: int = 1) -> None:
        """Drop the next `times` LFS uploads half-way through their body."""
        self.inject_fault("lfs_upload", cut_short=True, times=times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> int:
        with self._lock:
            return sum(f.times for f in self._faults)

    def _take_fault(self, kind: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    # -- inspection helpers for tests ---------------------------------------------------------------------------
    def calls(self, kind: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.kind == kind]

    def commits(self, repo_id: str, repo_type: str = "model", branch: str = "main") -> list[Commit]:
        """The first-parent history of `branch`, newest first."""
        with self.state.lock:
            repo = self.state.repos[(repo_type, repo_id)]
            commit, history = repo.commits[repo.branches[branch]], []
            while True:
                history.append(commit)
                if not commit.parents:
                    return history
                commit = repo.commits[commit.parents[0]]

    def files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, bytes]:
        """Every file of a revision, as stored."""
        with self.state.lock:
            repo = self.state.repos[(repo_type, repo_id)]
            commit = self.state.resolve(repo, revision)
            return {path: self.state.content(entry) for path, entry in commit.tree.items()}

    def has_repo(self, repo_id: str, repo_type: str = "model") -> bool:
        return (repo_type, repo_id) in self.state.repos

    def reset(self) -> None:
        """Forget every repo, blob, fault and logged request."""
        with self.state.lock:
            self.state = HubState(self.token, self.read_token)
        self.clear_faults()
        with self._lock:
            self.requests.clear()
