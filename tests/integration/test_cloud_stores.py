"""The full ELT on real object-store protocols: SeaweedFS (S3), fake-gcs-server (GCS), Azurite.

Every store gets the same guarantees as a local disk: the same layout and names, exact
schemas and counts read back with pyarrow over the store's own filesystem, exactly-once
through kills, streamed multipart/resumable uploads, and clear errors for a wrong credential
or a missing bucket, with nothing committed and nothing lost.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid

import duckdb
import pyarrow as pa
import pytest
from fsspec.core import strip_protocol

from superhero_assets.core import contract
from superhero_assets.core.run import manifest
from superhero_assets.core.run.plan import Chunk
from superhero_assets.core.store.chunk_files import ChunkFiles, landed
from superhero_tools.stack import emulators
from tests.support.elt_env import EltEnv

pytestmark = pytest.mark.integration

STORES = ("s3", "gcs", "azure")
LAYOUT = re.compile(
    r"^(raw_messages|buffer_meta|log_meta|lib_server_lobby|lib_server_game|quarantine)/"
    r"t[0-9a-f]{8}\.lib\.server\.(lobby|game)/\d{3}/\d{20}-\d{20}\.parquet$"
    r"|^etl_meta/[0-9a-f-]{36}\.parquet$"
    r"|^(etl_meta|raw_messages|buffer_meta|log_meta|lib_server_lobby|lib_server_game|quarantine)/empty\.parquet$"
    r"|^_manifest/(output\.json|runs/\d{10}-[0-9a-f-]{36}\.json)$"
    r"|^_manifest/head/t[0-9a-f]{8}\.lib\.server\.(lobby|game)/\d{3}\.json$"
)


@pytest.fixture(params=STORES)
def cloud(request, stack, object_stores):
    service = request.param
    prefix = f"run-{uuid.uuid4().hex[:8]}"
    env = EltEnv.create(
        stack,
        emulators.output_fs(service, object_stores, prefix),
        emulators.client_env(service, object_stores),
    )
    env.service = service
    yield env
    env.cleanup()


def test_full_elt_on_each_store_reads_back_with_exact_schemas_counts_and_layout(cloud):
    expected = cloud.produce_matches(20)
    entry = cloud.run(chunk_messages=25)  # several chunks per partition
    assert entry is not None
    for name, schema in contract.TABLES.items():
        table = cloud.table(name)
        if name == "quarantine":
            assert table.num_rows == 0
            continue
        assert table.schema.remove_metadata().equals(contract.schema_on_read(schema)), name
    assert cloud.table("buffer_meta").num_rows == expected["messages"]
    assert cloud.table("log_meta").num_rows == expected["messages"]
    assert cloud.table("lib_server_lobby").num_rows == expected["lobby"]
    assert cloud.table("lib_server_game").num_rows == expected["game"]
    assert cloud.table("etl_meta")["etl_id"].to_pylist() == [entry["etl_id"]]
    cloud.assert_exactly_once(expected["messages"])
    # The same deterministic layout as on a local disk, and nothing else (no temp files).
    files = cloud.store().list_all()
    assert files and all(LAYOUT.match(f) for f in files), [f for f in files if not LAYOUT.match(f)]
    # DuckDB reads the same rows through the store's filesystem.
    store = cloud.store()
    con = duckdb.connect()
    con.register_filesystem(store.fs)
    proto = str(cloud.output).split("://")[0]
    glob = f"{proto}://{strip_protocol(store.root)}/lib_server_game/**/*.parquet"
    assert con.sql(f"SELECT count(*) FROM '{glob}'").fetchall()[0][0] == expected["game"]
    head = store.read_json(manifest.head_path(cloud.game, 3))
    assert head["etl_id"] == entry["etl_id"] and head["offset"] == 14 and head["count"] == 15
    assert cloud.state()[contract.counts_key(cloud.game)].decode() == (
        '{"0": 15, "1": 15, "2": 15, "3": 15}'
    )


def test_a_chunks_files_are_written_together_and_an_older_empty_tables_file_goes(cloud):
    # On an object store a chunk's files are closed at once (its raw file last), and whether
    # chunks were landed is asked for all of them at once: the answers must be exactly those
    # of one at a time.
    store = cloud.store()
    chunk, other = Chunk("t0000000a.lib.server.game", 0, 0, 9), Chunk("t0000000a.x", 1, 0, 9)
    store.write_bytes(chunk.relpath("quarantine"), b"an older run's file")
    files = ChunkFiles(store, chunk, "e")
    files.add("raw_messages", pa.table({"offset": list(range(10))}))
    files.add("buffer_meta", pa.table({"offset": list(range(7))}))
    written = files.close(["raw_messages", "buffer_meta", "log_meta", "quarantine"])
    assert {name: stats.rows for name, stats in written.items()} == {
        "raw_messages": 10,
        "buffer_meta": 7,
    }
    assert sorted(store.list_all()) == [chunk.relpath("buffer_meta"), chunk.relpath("raw_messages")]
    assert store.read_parquet(chunk.relpath("buffer_meta"))["offset"].to_pylist() == list(range(7))
    found = landed(store, [other, chunk, other], "e")
    assert [stats is not None for stats in found] == [False, True, False]
    assert {name: stats.rows for name, stats in found[1].items()} == {
        "raw_messages": 10,
        "buffer_meta": 7,
    }
    assert landed(store, [chunk], "another plan") == [None]


def test_a_run_with_nothing_new_rewrites_no_object(cloud):
    cloud.produce_matches(4)
    cloud.run()
    cloud.assert_a_run_with_nothing_new_changes_nothing()


@pytest.mark.parametrize(
    "kill_at", ["mid_landing", "before_manifest", "before_commit", "after_commit"]
)
def test_a_killed_load_is_redone_and_every_offset_lands_exactly_once(cloud, kill_at):
    expected = cloud.produce_matches(12)
    killed = cloud.cli_load(kill_at=kill_at, chunk_messages=9)
    assert killed.returncode == -9, killed.stderr
    time.sleep(2.5)  # the dead run's locks expire (lock_ttl 2 s)
    # The killed run held its locks for 2 s; the rerun holds its own longer, so a slow
    # object store cannot make it lose them mid-run.
    rerun = cloud.cli_load(chunk_messages=9, lock_ttl=60)
    assert rerun.returncode == 0, rerun.stderr
    assert cloud.cli_load().stdout.strip().startswith('{"loaded": 0')
    cloud.assert_exactly_once(expected["messages"])
    assert cloud.table("lib_server_lobby").num_rows == expected["lobby"]
    assert cloud.table("lib_server_game").num_rows == expected["game"]
    assert cloud.state()[contract.counts_key(cloud.game)].decode() == (
        '{"0": 9, "1": 9, "2": 9, "3": 9}'
    )


def _big_table(mib: int) -> pa.Table:
    rows = mib * 16
    return pa.table({"blob": pa.array([os.urandom(64 * 1024) for _ in range(rows)], pa.binary())})


def test_a_big_file_is_streamed_in_parts_and_appears_whole(cloud):
    store = cloud.store()
    store.upload_block_bytes = 5 * 1024 * 1024
    handles = []
    opener = store.fs.open

    def spy(path, mode="rb", **kw):
        fh = opener(path, mode, **kw)
        handles.append(fh)
        return fh

    store.fs.open = spy
    table = _big_table(13)  # random bytes: ~13 MiB of Parquet, at least 2 parts
    written = store.write_parquet("big/000/part.parquet", table)
    assert written > 12 * 1024 * 1024
    assert store.read_parquet("big/000/part.parquet").equals(table)
    info = store.fs.info(store.path("big/000/part.parquet"))
    assert info["size"] == written
    fh = handles[0]  # the upload (later handles are the reads)
    if cloud.service == "s3":  # a multipart object's ETag is "<md5 of md5s>-<parts>"
        assert int(info["ETag"].strip('"').rsplit("-", 1)[1]) >= 2
    elif cloud.service == "gcs":  # a resumable-upload session was opened
        assert "uploadType=resumable" in str(getattr(fh, "location", "") or fh.__dict__)
    else:  # Azure: the blob was committed from several staged blocks
        from azure.storage.blob import BlobServiceClient

        cs = store.fs.connection_string
        container, blob = store.fs.split_path(store.path("big/000/part.parquet"))[:2]
        client = BlobServiceClient.from_connection_string(cs).get_blob_client(container, blob)
        assert len(client.get_block_list("committed")[0]) >= 2


def test_a_failed_upload_is_aborted_and_leaves_no_object(cloud):
    store = cloud.store()
    store.upload_block_bytes = 5 * 1024 * 1024
    with (
        pytest.raises(RuntimeError, match="writer died"),
        store.remote_streaming(store.path("big/001/part.parquet")) as fh,
    ):
        fh.write(os.urandom(11 * 1024 * 1024))  # two parts already uploaded
        raise RuntimeError("writer died")
    assert not store.exists("big/001/part.parquet")
    assert store.list("big", ".parquet") == []


BAD_CREDENTIALS = {
    "s3": ({"AWS_SECRET_ACCESS_KEY": "not-the-secret-4242"}, "AWS_SECRET_ACCESS_KEY"),
    "azure": (
        {"AZURE_ACCOUNT_KEY": "bm90LXRoZS1rZXktNDI0Mg=="},  # base64, but not the key
        "AZURE_ACCOUNT_KEY",
    ),
    "gcs": ({"GOOGLE_APPLICATION_CREDENTIALS": "__key_file__"}, "GOOGLE_APPLICATION_CREDENTIALS"),
}


def test_a_wrong_credential_fails_before_any_commit_naming_the_variable(cloud, tmp_path):
    expected = cloud.produce_matches(6)
    overrides, variable = BAD_CREDENTIALS[cloud.service]
    if cloud.service == "gcs":  # the emulator takes any token: a key file that is no key
        key = tmp_path / "sa.json"
        key.write_text(json.dumps({"type": "service_account", "client_email": "x@y"}))
        overrides = {variable: str(key)}
    failed = cloud.cli_load(extra_env=overrides)
    assert failed.returncode == 2, failed.stderr
    assert variable in failed.stderr
    assert "Traceback" not in failed.stderr
    for value in overrides.values():  # the secret never appears
        if cloud.service != "gcs":
            assert value not in failed.stderr + failed.stdout
    assert cloud.state() == {k: None for k in cloud.state()}  # nothing committed
    assert cloud.store().list_all() == []  # nothing written
    ok = cloud.cli_load(lock_ttl=60)  # nothing lost: the right credential loads every message once
    assert ok.returncode == 0, ok.stderr
    cloud.assert_exactly_once(expected["messages"])


def test_a_missing_bucket_fails_before_any_commit_naming_output_fs(cloud):
    expected = cloud.produce_matches(5)
    scheme = str(cloud.output).split("://")[0]
    missing = f"{scheme}://no-such-bucket-{uuid.uuid4().hex[:6]}/x"
    failed = cloud.cli_load(output_fs=missing)
    assert failed.returncode == 2, failed.stderr
    assert "OUTPUT_FS" in failed.stderr and "does not exist" in failed.stderr
    assert cloud.state() == {k: None for k in cloud.state()}
    assert cloud.cli_load(lock_ttl=60).returncode == 0
    cloud.assert_exactly_once(expected["messages"])
