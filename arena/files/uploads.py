"""Admin uploads kept on disk between preview and confirm, keyed by a random token.

The file is written straight to ``settings.ARENA_UPLOAD_DIR`` while it is
received and the upload is stopped as soon as it passes the size limit, so
it never sits in memory or in the session. Next to it, a small JSON file
records who uploaded it and for which pool; only that user can confirm it.
Both files are deleted after the import, on cancel, or after ``MAX_AGE``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload

TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
MAX_AGE = 24 * 3600
FIELD_NAME = "file"
# Past this much over the limit the upload is cut off instead of read to the
# end and discarded: the connection is reset and the browser shows its own error.
RESET_FACTOR = 4


class UploadStore:
    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def ensure(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(24)

    @staticmethod
    def valid(token: str) -> bool:
        return bool(TOKEN.match(token or ""))

    def data_path(self, token: str) -> Path:
        if not self.valid(token):
            raise ValueError("invalid upload token")
        return self.directory / f"{token}.upload"

    def meta_path(self, token: str) -> Path:
        if not self.valid(token):
            raise ValueError("invalid upload token")
        return self.directory / f"{token}.json"

    def save_meta(self, token: str, meta: dict) -> None:
        path = self.meta_path(token)
        temporary = path.with_suffix(".json.part")
        temporary.write_text(json.dumps({**meta, "created": time.time()}), encoding="utf-8")
        os.replace(temporary, path)

    def load(self, token: str) -> dict | None:
        """The upload's metadata, or None when the token is malformed, unknown, expired or incomplete."""
        if not self.valid(token):
            return None
        try:
            meta = json.loads(self.meta_path(token).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or not self.data_path(token).is_file():
            return None
        if time.time() - float(meta.get("created", 0)) > MAX_AGE:
            self.delete(token)
            return None
        return meta

    def open_data(self, token: str):
        return self.data_path(token).open("rb")

    def delete(self, token: str) -> None:
        if not self.valid(token):
            return
        for path in (self.data_path(token), self.meta_path(token), self.data_path(token).with_suffix(".upload.part")):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def sweep(self, max_age: float = MAX_AGE) -> None:
        """Delete what abandoned uploads left behind."""
        cutoff = time.time() - max_age
        try:
            entries = list(self.directory.iterdir())
        except OSError:
            return
        for path in entries:
            # Only this store's own files, should the directory be shared by mistake.
            if not self.valid(path.name.split(".", 1)[0]):
                continue
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass


class StoredUpload:
    """What the upload handler puts in ``request.FILES``: a file already on disk."""

    def __init__(self, token: str, name: str, size: int):
        self.token = token
        self.name = name
        self.size = size

    def close(self) -> None:  # called by HttpRequest.close()
        pass


class StoringUploadHandler(FileUploadHandler):
    """Writes the ``file`` field to the store while it arrives, refusing it past ``max_bytes``.

    After parsing, ``refused`` says the file was too large and ``failure``
    holds an OSError message when the server could not store it.
    """

    def __init__(self, request, *, store: UploadStore, max_bytes: int):
        super().__init__(request)
        self.store = store
        self.max_bytes = max_bytes
        self.refused = False
        self.failure = ""
        self.declared_length = 0
        self.token = None
        self.stream = None
        self.received = 0
        self.done = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.declared_length = content_length or 0
        return None

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        if field_name != FIELD_NAME or self.token is not None:
            raise SkipFile()
        token = self.store.new_token()
        try:
            self.store.ensure()
            part = self.store.data_path(token).with_suffix(".upload.part")
            descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self.stream = os.fdopen(descriptor, "wb")
        except OSError as exc:
            self.failure = exc.strerror or str(exc)
            raise StopUpload(connection_reset=False) from None
        self.token = token

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.refused = True
            self._discard()
            reset = self.declared_length > RESET_FACTOR * self.max_bytes
            raise StopUpload(connection_reset=reset)
        try:
            self.stream.write(raw_data)
        except OSError as exc:
            self.failure = exc.strerror or str(exc)
            self._discard()
            raise StopUpload(connection_reset=False) from None
        return None

    def file_complete(self, file_size):
        if self.stream is None or self.done:
            return None
        self.stream.close()
        self.stream = None
        data = self.store.data_path(self.token)
        os.replace(data.with_suffix(".upload.part"), data)
        self.done = True
        return StoredUpload(self.token, self.file_name or "", file_size)

    def upload_interrupted(self):
        self._discard()

    def _discard(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        if self.token is not None:
            self.store.delete(self.token)
            self.token = None


def upload_limit(max_bytes: int | None) -> int:
    """``max_bytes``, or the upload limit when it is None."""
    return max_bytes if max_bytes is not None else settings.ARENA_MAX_UPLOAD_BYTES
