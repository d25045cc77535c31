"""The block layout: blocks of whole tiles that cover the output once, on the chunk grid."""

import itertools

import pytest
from funlib.geometry import Coordinate, Roi

from napari_dacapo import plan_prediction
from napari_dacapo.blockwise import BlockLayout
from napari_dacapo.networks import demo_model, example_config


def network(name):
    if name.startswith("demo"):
        return demo_model(int(name[-2])).load()[1]
    config = example_config(name)
    return config.architecture_type(config)


CASES = [
    ("demo_3d", (100, 130, 70), "reflect", None),
    ("demo_3d", (100, 130, 70), "valid", (50, 50, 200)),
    ("demo_2d", (517, 300), "zero", (300, 1)),
    ("superres_unet3d", (150, 90, 120), "reflect", (100, 100, 100)),
]


@pytest.mark.parametrize("name,shape,pad,block_shape", CASES)
def test_every_tile_belongs_to_exactly_one_block_and_blocks_tile_the_output(name, shape, pad, block_shape):
    plan = plan_prediction(network(name), shape, pad)
    layout = BlockLayout.from_plan(plan, block_shape)
    rois = layout.write_rois()
    assert len(rois) == layout.num_blocks
    volume = 1
    for s in plan.output_shape:
        volume *= s
    assert sum(r.size for r in rois) == volume
    assert all(not a.intersects(b) for a, b in itertools.combinations(rois, 2))
    assigned = [tile.index for roi in rois for tile in layout.tiles(roi)]
    assert sorted(assigned) == sorted(tile.index for tile in plan.tiles)


@pytest.mark.parametrize("name,shape,pad,block_shape", CASES)
def test_blocks_start_on_chunk_boundaries_so_no_two_blocks_share_a_chunk(name, shape, pad, block_shape):
    plan = plan_prediction(network(name), shape, pad)
    layout = BlockLayout.from_plan(plan, block_shape)
    for roi in layout.write_rois():
        assert all(b % c == 0 for b, c in zip(roi.begin, layout.chunk_shape, strict=True))
        assert all(e % c == 0 or e == s for e, c, s in zip(roi.end, layout.chunk_shape, plan.output_shape, strict=True))


def test_block_shape_is_rounded_up_to_whole_tiles():
    plan = plan_prediction(network("demo_3d"), (300, 300, 300), "reflect")
    first = next(tile for tile in plan.tiles if tile.index == (0, 0, 0))
    tile_write = first.write_roi.shape
    layout = BlockLayout.from_plan(plan, (100, 1, 2 * tile_write[2]))
    expected = Coordinate(-(-100 // tile_write[0]) * tile_write[0], tile_write[1], 2 * tile_write[2])
    assert layout.block_write == expected
    assert BlockLayout.from_plan(plan).block_write == tile_write


def test_a_block_reads_its_tiles_inputs_with_their_context():
    net = network("demo_3d")
    plan = plan_prediction(net, (200, 200, 200), "valid")
    layout = BlockLayout.from_plan(plan, (120, 120, 120))
    roi = layout.write_rois()[0]
    read = layout.read_roi(roi)
    context = net.input_shape - net.output_shape(net.input_shape)
    # valid padding: output voxel i is input voxel i + context // 2, so the block reads its
    # write ROI grown by the context (and a block of whole tiles, more past the image end)
    assert read.begin == Coordinate(0, 0, 0)
    assert all(r >= w + c for r, w, c in zip(read.shape, roi.shape, context, strict=True))


def test_a_bad_block_shape_is_refused():
    plan = plan_prediction(network("demo_2d"), (300, 300), "reflect")
    with pytest.raises(ValueError, match="2 positive sizes"):
        BlockLayout.from_plan(plan, (0, 10))
    with pytest.raises(ValueError, match="2 positive sizes"):
        BlockLayout.from_plan(plan, (10, 10, 10))


def test_the_total_roi_is_the_output():
    plan = plan_prediction(network("demo_2d"), (70, 90), "reflect")
    layout = BlockLayout.from_plan(plan)
    assert layout.total_roi == Roi((0, 0), (70, 90))


class FakeContext(dict):
    """What daisy hands a worker function: its worker id and the scheduler's address."""

    def to_env(self) -> str:
        return ":".join(f"{k}={v}" for k, v in self.items())


def test_workers_get_the_devices_round_robin_and_run_through_the_launcher(monkeypatch):
    from napari_dacapo.blockwise import WorkerSlot

    launched = []
    monkeypatch.setattr("subprocess.run", lambda command, env, check: launched.append((command, env)))
    slot = WorkerSlot("/data/out.zarr/pred", ("cuda:0", "cuda:1"), ("srun", "--gres=gpu:1"))
    for worker_id in range(3):
        slot(context=FakeContext(worker_id=worker_id, hostname="head", port=1234))
    devices = [command[command.index("--device") + 1] for command, _ in launched]
    assert devices == ["cuda:0", "cuda:1", "cuda:0"]
    command, env = launched[0]
    assert command[:2] == ["srun", "--gres=gpu:1"]
    assert command[3:7] == ["-m", "napari_dacapo", "worker", "/data/out.zarr/pred"]
    assert env["DAISY_CONTEXT"] == "worker_id=0:hostname=head:port=1234"
