"""The REST query client, against TF Serving's REST protocol.

Where ``tensorflow_model_server`` is on PATH the last test serves the
brute-force and the partitioned exports (core ops only) for real; everywhere, a loopback HTTP server that speaks TF Serving's row
format answers from the same SavedModel, so request building and response
parsing are checked end to end against real model outputs.
"""

import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import numpy as np
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from export import query
from export import serving_module
from tfrs_adcg import schema

EVENTS = [
    {"user_id": "u2", "timestamp": "2026-01-03T10:00:00Z",
     "event_type": "view", "item_id": "i1", "advertiser_id": "a1"},
    {"user_id": "u1", "timestamp": 1767434400, "event_type": "view",
     "item_id": "", "advertiser_id": "a2"},
    {"user_id": "u2", "timestamp": "2026-01-03T09:00:00Z",
     "event_type": "checkout", "item_id": "i7", "advertiser_id": "a3"},
]


def test_build_request_pads_every_user_to_one_width():
  users = query.read_events([json.dumps(e) for e in EVENTS])
  request = query.build_request([users["u1"], users["u2"]])
  first, second = request["instances"]
  assert first[schema.ADVERTISER_ID] == ["a2", ""]
  assert first[schema.TIMESTAMP] == [1767434400_000, 0]  # Milliseconds.
  assert second[schema.ADVERTISER_ID] == ["a1", "a3"]
  assert second[schema.ITEM_ID] == ["i1", "i7"]


def test_pad_to_keeps_the_most_recent_events():
  users = query.read_events([json.dumps(e) for e in EVENTS])
  request = query.build_request([users["u2"], []], pad_to=1)
  assert request["instances"][0][schema.ADVERTISER_ID] == ["a1"]
  assert request["instances"][1][schema.ADVERTISER_ID] == [""]


@pytest.mark.parametrize("line,message", [
    ("{not json", "line 1"),
    (json.dumps({"user_id": "u", "event_type": "view",
                 "timestamp": 1}), "advertiser_id"),
    (json.dumps({"user_id": "u", "event_type": "view", "advertiser_id": "a",
                 "timestamp": "soon"}), "soon"),
])
def test_bad_event_lines_name_the_line_and_the_problem(line, message):
  with pytest.raises(ValueError, match=message):
    query.read_events([line])


def test_epoch_numbers_of_any_unit_become_milliseconds():
  line = json.dumps({"user_id": "u3", "timestamp": 1767434400250,
                     "event_type": "view", "advertiser_id": "a2"})
  assert query.read_events([line])["u3"][0][3] == 1767434400_250
  assert query.parse_user_event("a1,,view,2026-01-03T10:00:00.5Z")[3] == (
      1767434400_500)


def test_user_events_need_four_fields():
  assert query.parse_user_event("a1,,signup,1700000000") == (
      "a1", "", "signup", 1700000000_000)
  with pytest.raises(ValueError, match="expected"):
    query.parse_user_event("a1,view,1700000000")


class FakeServing(http.server.ThreadingHTTPServer):
  """TF Serving's REST predict for one SavedModel, on 127.0.0.1."""

  def __init__(self, version_dir: str, model: str):
    self.signature = tf.saved_model.load(version_dir).signatures[
        serving_module.SERVING_DEFAULT]
    self.model = model
    super().__init__(("127.0.0.1", 0), PredictHandler)


class PredictHandler(http.server.BaseHTTPRequestHandler):
  """Answers POST /v1/models/<model>:predict in the row format."""

  def log_message(self, *args):  # Quiet test output.
    pass

  def reply(self, code: int, body: dict) -> None:
    data = json.dumps(body).encode()
    self.send_response(code)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def do_POST(self):  # pylint: disable=invalid-name
    if self.path != f"/v1/models/{self.server.model}:predict":
      self.reply(404, {"error": f"Servable not found for request: {self.path}"})
      return
    request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
    instances = request["instances"]
    inputs = {name: tf.constant([i[name] for i in instances])
              for name in schema.SEQUENCE_FEATURES}
    inputs[schema.TIMESTAMP] = tf.cast(inputs[schema.TIMESTAMP], tf.int64)
    try:
      outputs = self.server.signature(**inputs)
    except tf.errors.InvalidArgumentError as e:
      self.reply(400, {"error": e.message})
      return
    ids = outputs[serving_module.CANDIDATE_IDS].numpy()
    scores = outputs[serving_module.SCORES].numpy()
    self.reply(200, {"predictions": [
        {serving_module.CANDIDATE_IDS: [c.decode() for c in i],
         serving_module.SCORES: s.tolist()} for i, s in zip(ids, scores)]})


@pytest.fixture(scope="module")
def fake_server(exported_versions):
  server = FakeServing(str(exported_versions["brute_force"]), "adcg")
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  yield f"http://127.0.0.1:{server.server_address[1]}", server
  server.shutdown()


def test_cli_prints_each_users_candidates(fake_server, tmp_path, capsys):
  url, server = fake_server
  events = tmp_path / "events.jsonl"
  events.write_text("\n".join(json.dumps(e) for e in EVENTS))
  predictions = query.main(["--url", url, "--model", "adcg", "--events",
                            str(events), "--top", "3"])
  request = query.build_request(
      [query.read_events([json.dumps(e) for e in EVENTS])[u]
       for u in ("u1", "u2")])
  direct = server.signature(**{
      name: tf.constant([i[name] for i in request["instances"]],
                        tf.int64 if name == schema.TIMESTAMP else tf.string)
      for name in schema.SEQUENCE_FEATURES})
  assert [p[serving_module.CANDIDATE_IDS] for p in predictions] == [
      [c.decode() for c in row] for row in
      direct[serving_module.CANDIDATE_IDS].numpy()]
  printed = capsys.readouterr().out.splitlines()
  assert printed[0].startswith("u1: ") and printed[1].startswith("u2: ")
  assert printed[1].count("(") == 3


def test_server_errors_come_back_as_clear_messages(fake_server):
  url, _ = fake_server
  with pytest.raises(query.QueryError, match="HTTP 404.*Servable not found"):
    query.predict(url, "other-model", query.build_request([[]]))
  bad = {"instances": [{schema.ADVERTISER_ID: ["a"], schema.ITEM_ID: ["i"],
                        schema.EVENT_TYPE: ["view"],
                        schema.TIMESTAMP: [1, 2]}]}
  with pytest.raises(query.QueryError, match="(?s)HTTP 400.*must have the same"):
    query.predict(url, "adcg", bad)


def test_a_url_without_a_scheme_is_http(fake_server, capsys):
  url, _ = fake_server
  predictions = query.main(["--url", url[len("http://"):], "--user-events",
                            "a1,,view,1700000000"])
  assert len(predictions) == 1
  assert capsys.readouterr().out.startswith("user: ")


@pytest.mark.parametrize("url", ["ftp://localhost:8501", "http://"])
def test_a_url_that_is_no_rest_address_is_a_clear_message(url):
  with pytest.raises(SystemExit, match=r"expected \[http://\]host:port"):
    query.main(["--url", url, "--user-events", "a1,,view,1700000000"])


def test_unreachable_server_is_a_clear_message():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  with pytest.raises(SystemExit, match="Cannot reach.*tensorflow_model_server"):
    query.main(["--url", f"http://127.0.0.1:{port}", "--user-events",
                "a1,,view,1700000000"])


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("tensorflow_model_server") is None,
                    reason="tensorflow_model_server is not on PATH")
@pytest.mark.parametrize("kind", ["brute_force", "partitioned"])
def test_real_tensorflow_model_server(exported_versions, tmp_path, kind):
  version_dir = exported_versions[kind]
  rest_port = free_port()
  log = open(tmp_path / "server.log", "w")
  server = subprocess.Popen([
      "tensorflow_model_server", f"--port={free_port()}",
      f"--rest_api_port={rest_port}", "--rest_api_timeout_in_ms=30000",
      "--model_name=adcg", f"--model_base_path={version_dir.parent}"],
                            stdout=log, stderr=subprocess.STDOUT)
  url = f"http://127.0.0.1:{rest_port}"
  try:
    deadline = time.time() + 120
    state = None
    while time.time() < deadline and state != "AVAILABLE":
      time.sleep(1)
      try:
        with urllib.request.urlopen(f"{url}/v1/models/adcg", timeout=5) as r:
          state = json.load(r)["model_version_status"][0]["state"]
      except OSError:
        assert server.poll() is None, (tmp_path / "server.log").read_text()
    assert state == "AVAILABLE", (tmp_path / "server.log").read_text()
    users = query.read_events([json.dumps(e) for e in EVENTS])
    request = query.build_request([users["u1"], users["u2"]])
    served = query.predict(url, "adcg", request)
    loaded = tf.saved_model.load(str(version_dir))
    direct = loaded.signatures[serving_module.SERVING_DEFAULT](**{
        name: tf.constant([i[name] for i in request["instances"]],
                          tf.int64 if name == schema.TIMESTAMP else tf.string)
        for name in schema.SEQUENCE_FEATURES})
    for prediction, ids, scores in zip(
        served, direct[serving_module.CANDIDATE_IDS].numpy(),
        direct[serving_module.SCORES].numpy()):
      assert prediction[serving_module.CANDIDATE_IDS] == [
          c.decode() for c in ids]
      np.testing.assert_allclose(prediction[serving_module.SCORES], scores,
                                 rtol=1e-5)
  finally:
    server.terminate()
    server.wait(timeout=30)
    log.close()
