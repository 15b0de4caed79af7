"""Queries a running TF Serving model over REST with users' raw events.

    python -m export.query --url http://localhost:8501 --model adcg \
        --events recent_events.jsonl
    python -m export.query --url http://localhost:8501 --model adcg \
        --user-events a17,i301,view,2026-01-03T10:00:00Z a17,,signup,1767434500

``--events`` takes raw event rows (the raw event schema, JSON Lines) of one
or more users and asks for all of them in one request; ``--user-events``
takes one user's events as ``advertiser_id,item_id,event_type,timestamp``.
Each user becomes one instance of TF Serving's row format, padded with "" and
0 to the longest history in the request, as the signature expects.
"""

import argparse
import collections
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from tfrs_adcg import schema
from tfrs_adcg import timestamps

# advertiser_id, item_id, event_type, time (epoch milliseconds).
Event = Tuple[str, str, str, int]


class QueryError(RuntimeError):
  """The server could not be reached or refused the request."""


def parse_user_event(text: str) -> Event:
  """Parses ``advertiser_id,item_id,event_type,timestamp``."""
  parts = text.split(",")
  if len(parts) != 4 or not parts[0] or not parts[2]:
    raise ValueError(
        f"{text!r}: expected advertiser_id,item_id,event_type,timestamp "
        "(item_id may be empty).")
  return parts[0], parts[1], parts[2], timestamps.parse_timestamp_any_unit_ms(parts[3])


def read_events(lines: Sequence[str]) -> Dict[str, List[Event]]:
  """Groups raw JSON Lines event rows by user."""
  users = collections.defaultdict(list)
  for number, line in enumerate(lines, start=1):
    if not line.strip():
      continue
    try:
      row = json.loads(line)
      missing = [c for c in (schema.RAW_USER_ID, schema.RAW_ADVERTISER_ID,
                             schema.RAW_EVENT_TYPE, schema.RAW_TIMESTAMP)
                 if not row.get(c)]
      if missing:
        raise ValueError(f"missing {', '.join(missing)}")
      users[str(row[schema.RAW_USER_ID])].append((
          str(row[schema.RAW_ADVERTISER_ID]),
          str(row.get(schema.RAW_ITEM_ID) or ""),
          str(row[schema.RAW_EVENT_TYPE]),
          timestamps.parse_timestamp_any_unit_ms(row[schema.RAW_TIMESTAMP])))
    except (ValueError, TypeError, AttributeError) as e:
      raise ValueError(f"line {number}: {e}") from None
  return dict(users)


def build_request(histories: Sequence[Sequence[Event]],
                  pad_to: Optional[int] = None) -> dict:
  """TF Serving row-format request: one padded instance per user.

  Args:
    histories: Each user's events, in any order.
    pad_to: The width of every instance: the most recent ``pad_to`` events,
      padded. By default the longest history in the request; a fixed width
      lets a batching server merge requests.
  """
  width = max((len(events) for events in histories), default=0)
  if pad_to is not None:
    width = pad_to
    histories = [sorted(events, key=lambda e: e[3])[-pad_to:] if pad_to
                 else [] for events in histories]
  instances = []
  for events in histories:
    pad = width - len(events)
    columns = list(zip(*events)) if events else [(), (), (), ()]
    instance = {
        schema.ADVERTISER_ID: list(columns[0]) + [schema.STRING_PAD] * pad,
        schema.ITEM_ID: list(columns[1]) + [schema.STRING_PAD] * pad,
        schema.EVENT_TYPE: list(columns[2]) + [schema.STRING_PAD] * pad,
        schema.TIMESTAMP: [int(t) for t in columns[3]] + [schema.INT_PAD] * pad,
    }
    instances.append(instance)
  return {"signature_name": "serving_default", "instances": instances}


def rest_url(url: str) -> str:
  """TF Serving's REST address with its scheme: ``http://`` if none is given.

  Raises:
    QueryError: for a scheme other than http and https, or no host.
  """
  if "://" not in url:
    url = "http://" + url
  parts = urllib.parse.urlsplit(url)
  if parts.scheme not in ("http", "https") or not parts.netloc:
    raise QueryError(
        f"--url {url!r} is not TF Serving's REST address: expected "
        "[http://]host:port, e.g. localhost:8501.")
  return url.rstrip("/")


def predict(url: str, model: str, request: Mapping,
            version: Optional[int] = None, timeout: float = 30.0
            ) -> List[dict]:
  """POSTs ``request`` to the model's REST predict endpoint.

  Args:
    url: TF Serving's REST address, e.g. ``localhost:8501`` (see
      ``rest_url``).
    model: The served model name.
    request: The request body (``build_request``).
    version: A specific version; default the server's latest.
    timeout: Seconds to wait for the answer.

  Returns:
    One dict per instance, e.g. {"candidate_ids": [...], "scores": [...]}.

  Raises:
    QueryError: with the server's own message when it answers with an error,
      with the reason when it cannot be reached, or for a ``url`` that is no
      http(s) address.
  """
  path = f"/v1/models/{model}" + (f"/versions/{version}" if version else "")
  endpoint = rest_url(url) + path + ":predict"
  body = json.dumps(request).encode()
  http_request = urllib.request.Request(
      endpoint, data=body, headers={"Content-Type": "application/json"})
  try:
    with urllib.request.urlopen(http_request, timeout=timeout) as response:
      answer = json.load(response)
  except urllib.error.HTTPError as e:
    detail = e.read().decode(errors="replace")
    try:
      detail = json.loads(detail).get("error", detail)
    except ValueError:
      pass
    raise QueryError(f"{endpoint} answered HTTP {e.code}: {detail}") from None
  except (urllib.error.URLError, OSError) as e:
    reason = getattr(e, "reason", e)
    raise QueryError(
        f"Cannot reach {endpoint}: {reason}. Is tensorflow_model_server "
        "running with --rest_api_port?") from None
  if "predictions" not in answer:
    raise QueryError(f"{endpoint} answered without predictions: {answer}")
  return answer["predictions"]


def format_predictions(users: Sequence[str], predictions: Sequence[dict],
                       top: int) -> str:
  lines = []
  for user, prediction in zip(users, predictions):
    pairs = list(zip(prediction["candidate_ids"], prediction["scores"]))[:top]
    shown = ", ".join(f"{c} ({s:.3f})" for c, s in pairs if c)
    lines.append(f"{user}: {shown}")
  return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
  parser = argparse.ArgumentParser(
      description="Ask a TF Serving tfrs-adcg model for users' candidates.")
  parser.add_argument("--url", default="http://localhost:8501",
                      help="TF Serving's REST address; http:// if no scheme "
                      "is given.")
  parser.add_argument("--model", default="adcg", help="--model_name served.")
  parser.add_argument("--version", type=int, help="A specific version.")
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--events", help="JSON Lines of raw events.")
  source.add_argument("--user-events", dest="user_events", nargs="+",
                      metavar="ADV,ITEM,TYPE,TIME",
                      help="One user's events.")
  parser.add_argument("--pad_to", type=int,
                      help="Send every user as exactly this many events "
                      "(most recent kept): lets a batching server merge "
                      "requests. Default: the longest history sent.")
  parser.add_argument("--top", type=int, default=10,
                      help="How many candidates to print per user.")
  parser.add_argument("--timeout", type=float, default=30.0)
  args = parser.parse_args(argv)
  if args.pad_to is not None and args.pad_to < 0:
    parser.error("--pad_to must not be negative.")
  try:
    if args.events:
      with open(args.events, encoding="utf-8") as f:
        users = read_events(f.readlines())
      if not users:
        parser.error(f"{args.events} holds no events.")
    else:
      users = {"user": [parse_user_event(e) for e in args.user_events]}
  except (OSError, ValueError) as e:
    parser.error(str(e))
  names = sorted(users)
  request = build_request([users[name] for name in names], args.pad_to)
  try:
    predictions = predict(args.url, args.model, request, args.version,
                          args.timeout)
  except QueryError as e:
    raise SystemExit(f"error: {e}") from None
  print(format_predictions(names, predictions, args.top))
  return predictions


if __name__ == "__main__":
  main()
