"""The item catalog: checks, streaming, grouping, and the same content read
from Parquet and from TFRecord (also into a model's training items)."""

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from export import catalog_index
from export import index as index_lib
from tfrs_adcg import item_catalog
from tfrs_adcg import item_content
from tfrs_adcg import model as model_lib
from tfrs_adcg import schema

E = 3


def catalog_rows(with_embedding=True, integer_prices=False):
  """The tiny catalog as columns of Python values."""
  ids = ["i0", "i1", "i2", "i3", "i4"]
  columns = {
      schema.CATALOG_ITEM_ID: ids,
      schema.CATALOG_ADVERTISER_ID: ["a", "a", "b", "a", "b"],
      schema.CATALOG_CATEGORY: ["shoes", "shoes", "travel", "shoes", "travel"],
      schema.CATALOG_PRICE: ([1, 2, 3, 4, 5] if integer_prices
                             else [1.5, 2.5, 3.5, 4.5, 5.5]),
  }
  if with_embedding:
    columns[schema.CATALOG_EMBEDDING] = [
        [float(i), 0.5 * i, -float(i)] for i in range(len(ids))]
  return columns


def write_catalog(path, with_embedding=True, integer_prices=False):
  columns = catalog_rows(with_embedding, integer_prices)
  if with_embedding:
    columns[schema.CATALOG_EMBEDDING] = pa.array(
        columns[schema.CATALOG_EMBEDDING], pa.list_(pa.float32()))
  pq.write_table(pa.table(columns), str(path), row_group_size=2)
  return str(path)


def item_example(row):
  """A tf.train.Example of {feature: value}; strings as bytes, floats."""
  features = {}
  for name, value in row.items():
    if isinstance(value, str):
      feature = tf.train.Feature(
          bytes_list=tf.train.BytesList(value=[value.encode()]))
    else:
      values = value if isinstance(value, (list, np.ndarray)) else [value]
      feature = tf.train.Feature(
          float_list=tf.train.FloatList(value=list(values)))
    features[name] = feature
  return tf.train.Example(features=tf.train.Features(feature=features))


def write_tfrecord(paths, columns):
  """Writes the rows of ``columns`` as tf.train.Examples, round robin over
  ``paths`` (gzip for a .gz path); a None value leaves the feature out."""
  writers = [tf.io.TFRecordWriter(
      str(path), "GZIP" if str(path).endswith(".gz") else None)
             for path in paths]
  names = list(columns)
  for i, values in enumerate(zip(*columns.values())):
    row = {name: value for name, value in zip(names, values)
           if value is not None}
    writers[i % len(writers)].write(item_example(row).SerializeToString())
  for writer in writers:
    writer.close()


def catalog_in(tmp_path, layout, **kwargs):
  """The tiny catalog written as ``layout``; the path to read it by."""
  if layout == "parquet":
    return write_catalog(tmp_path / "items.parquet", **kwargs)
  if layout == "tfrecord":
    path = str(tmp_path / "items.tfrecord")
    write_tfrecord([path], catalog_rows(**kwargs))
    return path
  # Two gzip shards; the rows alternate, so the ids come back reordered.
  write_tfrecord([tmp_path / f"items-{shard}-of-2.tfrecord.gz"
                  for shard in range(2)], catalog_rows(**kwargs))
  return str(tmp_path / "items-*-of-2.tfrecord.gz")


LAYOUTS = ("parquet", "tfrecord", "tfrecord_gzip_shards")


def read_all(dataset):
  """A catalog dataset's batches concatenated, rows sorted by item id."""
  batches = list(dataset)
  columns = {name: np.concatenate([b[name].numpy() for b in batches])
             for name in batches[0]}
  order = np.argsort(columns[schema.CATALOG_ITEM_ID])
  return {name: values[order] for name, values in columns.items()}


@pytest.mark.parametrize("layout", LAYOUTS[1:])
def test_tfrecord_and_parquet_read_the_same(tmp_path, layout):
  parquet = catalog_in(tmp_path, "parquet")
  tfrecord = catalog_in(tmp_path, layout)
  for path in (parquet, tfrecord):
    item_catalog.check_catalog(path, pretrained=True)
  assert item_catalog.num_items(tfrecord) == item_catalog.num_items(
      parquet) == 5
  every = item_catalog.content_columns(pretrained=True)
  expected = read_all(item_catalog.read_item_catalog(parquet, every))
  got = read_all(item_catalog.read_item_catalog(tfrecord, every,
                                                batch_size=2))
  assert list(got) == every
  for name in every:
    assert got[name].dtype == expected[name].dtype, name
    np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
  assert expected[schema.CATALOG_ITEM_ID].tolist() == [
      b"i0", b"i1", b"i2", b"i3", b"i4"]
  assert expected[schema.CATALOG_EMBEDDING].shape == (5, E)

  for pretrained in (True, False):
    content = [read_all(item_catalog.read_item_content(path, pretrained))
               for path in (parquet, tfrecord)]
    assert sorted(content[0]) == sorted(content[1]) == sorted(
        item_catalog.content_columns(pretrained))
    for name in content[0]:
      np.testing.assert_array_equal(content[0][name], content[1][name])

  read = {}
  for path in (parquet, tfrecord):
    out = str(tmp_path / f"{os.path.basename(path)[:5]}_{layout}.parquet")
    assert item_content.write_training_items(
        path, ["i3", "i1", "missing"], out, pretrained=True) == 2
    read[path] = item_content.read_training_items(
        out, ["i3", "i1", "missing"], pretrained=True)
  for field in ("item_ids", "advertiser_ids", "categories", "prices",
                "embeddings"):
    np.testing.assert_array_equal(getattr(read[parquet], field),
                                  getattr(read[tfrecord], field))
  np.testing.assert_allclose(read[tfrecord].embeddings[0], [3.0, 1.5, -3.0])

  positives = {"i3": 5, "i1": 2, "i2": 1}
  grouped = [item_catalog.advertiser_items(path, positives, per_advertiser=2)
             for path in (parquet, tfrecord)]
  assert grouped[0] == grouped[1]
  assert grouped[1].items_of == {"a": ["i3", "i1"], "b": ["i2", "i4"]}


def test_tfrecord_integer_prices_are_read_as_floats(tmp_path):
  path = str(tmp_path / "items.tfrecord")
  rows = catalog_rows()
  example = item_example({name: values[0] for name, values in rows.items()})
  example.features.feature[schema.CATALOG_PRICE].Clear()
  example.features.feature[schema.CATALOG_PRICE].int64_list.value.append(7)
  with tf.io.TFRecordWriter(path) as writer:
    writer.write(example.SerializeToString())
  batch = next(iter(item_catalog.read_item_content(path, pretrained=True)))
  assert batch[schema.CATALOG_PRICE].dtype == tf.float32
  assert batch[schema.CATALOG_PRICE].numpy().tolist() == [7.0]


def test_tfrecord_catalog_errors_name_the_file_and_problem(tmp_path):
  every = item_catalog.content_columns(pretrained=True)
  with pytest.raises(ValueError, match="must be a Parquet file.*tfrecord"):
    item_catalog.read_item_catalog(str(tmp_path / "items.tfr"), every)
  with pytest.raises(ValueError, match="matches no file"):
    item_catalog.check_catalog(str(tmp_path / "none-*.tfrecord.gz"), True)
  empty = str(tmp_path / "empty.tfrecord")
  write_tfrecord([empty], {schema.CATALOG_ITEM_ID: []})
  with pytest.raises(ValueError, match="empty"):
    item_catalog.read_item_catalog(empty, every)
  not_gzip = str(tmp_path / "plain.tfrecord.gz")
  write_tfrecord([not_gzip[:-3]], catalog_rows())
  os.rename(not_gzip[:-3], not_gzip)
  with pytest.raises(ValueError, match="plain.tfrecord.gz' cannot be read"):
    item_catalog.num_items(not_gzip)

  bare = str(tmp_path / "bare.tfrecord")
  write_tfrecord([bare], catalog_rows(with_embedding=False))
  with pytest.raises(ValueError, match="--no_pretrained"):
    item_catalog.check_catalog(bare, pretrained=True)
  item_catalog.check_catalog(bare, pretrained=False)
  with pytest.raises(ValueError, match=r"bare.tfrecord.*no feature 'embed"):
    item_catalog.read_item_catalog(bare, every)

  # A later record without a price: found as the records stream by.
  rows = catalog_rows()
  rows[schema.CATALOG_PRICE][3] = None
  no_price = str(tmp_path / "no_price.tfrecord")
  write_tfrecord([no_price], rows)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r"Item 'i3' \(record 3 of .*no_price.tfrecord'\) "
                     "has no 'price' feature"):
    list(item_catalog.read_item_catalog(no_price, every, batch_size=2))
  rows = catalog_rows()
  rows[schema.CATALOG_ITEM_ID][4] = None
  no_id = str(tmp_path / "no_id.tfrecord")
  write_tfrecord([no_id], rows)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="Record 4 of .*no_id.tfrecord' has no 'item_id'"):
    list(item_catalog.read_item_catalog(no_id, every, batch_size=2))

  rows = catalog_rows()
  rows[schema.CATALOG_EMBEDDING][4] = [1.0, 2.0]
  ragged = str(tmp_path / "ragged.tfrecord")
  write_tfrecord([ragged], rows)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="Item 'i4'.*2-dimensional embedding.*has 3"):
    list(item_catalog.read_item_content(ragged, pretrained=True))
  # Without the embedding the same catalog reads.
  assert len(read_all(item_catalog.read_item_content(
      ragged, pretrained=False))[schema.CATALOG_ITEM_ID]) == 5

  rows = catalog_rows()
  rows[schema.CATALOG_CATEGORY][2] = 7.0  # A float where bytes belong.
  mistyped = str(tmp_path / "mistyped.tfrecord")
  write_tfrecord([mistyped], rows)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="mistyped.tfrecord' cannot be read as an item "
                     "catalog .*Key: category"):
    list(item_catalog.read_item_catalog(mistyped, every))


def test_check_catalog_explains_what_is_wrong(tmp_path):
  with pytest.raises(ValueError, match="must be a Parquet file .* or "
                     "TFRecord"):
    item_catalog.check_catalog(str(tmp_path / "items.csv"), pretrained=True)
  with pytest.raises(ValueError, match="does not exist"):
    item_catalog.check_catalog(str(tmp_path / "no.parquet"), pretrained=True)
  bare = write_catalog(tmp_path / "bare.parquet", with_embedding=False)
  with pytest.raises(ValueError, match="--no_pretrained"):
    item_catalog.check_catalog(bare, pretrained=True)
  item_catalog.check_catalog(bare, pretrained=False)
  pq.write_table(pa.table({schema.CATALOG_ITEM_ID: ["x"]}),
                 str(tmp_path / "ids.parquet"))
  with pytest.raises(ValueError, match="lacks the column"):
    item_catalog.check_catalog(str(tmp_path / "ids.parquet"),
                               pretrained=False)


def test_read_item_content_streams_float_prices(tmp_path):
  path = write_catalog(tmp_path / "items.parquet", integer_prices=True)
  batches = list(item_catalog.read_item_content(path, pretrained=True,
                                                batch_size=2))
  assert [b[schema.CATALOG_ITEM_ID].shape[0] for b in batches] == [2, 2, 1]
  assert batches[0][schema.CATALOG_PRICE].dtype == tf.float32
  assert batches[0][schema.CATALOG_EMBEDDING].shape == (2, E)
  assert item_catalog.num_items(path) == 5


def test_advertiser_items_by_popularity(tmp_path):
  path = write_catalog(tmp_path / "items.parquet")
  grouped = item_catalog.advertiser_items(
      path, {"i3": 5, "i1": 2, "i2": 1}, per_advertiser=2)
  # a's items i0, i1, i3: by positives (i3, i1), then catalog order; cut to 2.
  assert grouped.items_of == {"a": ["i3", "i1"], "b": ["i2", "i4"]}
  assert grouped.positives == {"a": 7, "b": 1}
  assert grouped.popularity_ranking() == ["a", "b"]


def test_a_tfrecord_catalog_trains_and_indexes_as_its_parquet_twin(
    item_model_dir, item_synthetic_dir, tmp_path):
  parquet = str(item_synthetic_dir / "items.parquet")
  table = pq.read_table(parquet).to_pydict()
  write_tfrecord([tmp_path / f"items-{shard}-of-3.tfrecord.gz"
                  for shard in range(3)], table)
  tfrecord = str(tmp_path / "items-*-of-3.tfrecord.gz")
  trained = model_lib.load_trained(str(item_model_dir))
  item_catalog.check_catalog(tfrecord, trained.spec.pretrained)
  assert item_catalog.num_items(tfrecord) == len(table[schema.CATALOG_ITEM_ID])

  # Training: the training items' content, whichever catalog it came from.
  training_ids = table[schema.CATALOG_ITEM_ID][::7]
  content = []
  for path in (parquet, tfrecord):
    out = str(tmp_path / f"training_items_{len(content)}.parquet")
    assert item_content.write_training_items(
        path, training_ids, out, trained.spec.pretrained) == len(
            training_ids)
    content.append(item_content.read_training_items(
        out, training_ids, trained.spec.pretrained))
  np.testing.assert_array_equal(content[0].embeddings, content[1].embeddings)
  np.testing.assert_array_equal(content[0].categories, content[1].categories)

  # Evaluation's and export's corpus, and the export's streamed ScaNN index.
  ids, embeddings = trained.corpus_embeddings()
  shard_ids, shard_embeddings = trained.corpus_embeddings(tfrecord)
  order = np.argsort(shard_ids.numpy())
  np.testing.assert_array_equal(shard_ids.numpy()[order], ids.numpy())
  np.testing.assert_allclose(shard_embeddings.numpy()[order],
                             embeddings.numpy(), atol=1e-6)
  k = 20
  index = catalog_index.index_catalog(
      trained.corpus(tfrecord), k,
      index_lib.ScannParameters.for_corpus(int(ids.shape[0]), k))
  queries = embeddings[:5]
  scores, found = index(queries)
  exact = tf.math.top_k(tf.linalg.matmul(queries, embeddings,
                                         transpose_b=True), k=k)
  np.testing.assert_allclose(scores.numpy(), exact.values.numpy(), atol=1e-4)
  assert found.numpy()[:, 0].tolist() == ids.numpy()[:5].tolist()
