"""The typed config (petra.params): generated from the schema, in step with it, filled from params.yaml only,
strict about keys, and giving the readers exactly the values the plain dict holds."""
from __future__ import annotations

import dataclasses
import importlib.util
import typing
from pathlib import Path

import pytest
import yaml

from petra import config, params
from petra.errors import PetraError

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ("sample", "smoke", "full", "voxceleb2")


def _generator():
    spec = importlib.util.spec_from_file_location("gen_params", ROOT / "tools" / "gen_params.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _schema_objects(node: dict, path: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Dotted path -> property names of every schema object with ``properties`` (the raw schema)."""
    out = {".".join(path): list(node["properties"])}
    for key, sub in node["properties"].items():
        if "properties" in sub:
            out.update(_schema_objects(sub, (*path, key)))
    return out


def _classes() -> dict[str, type]:
    return {c.SECTION: c for c in vars(params).values()
            if isinstance(c, type) and dataclasses.is_dataclass(c) and c.__module__ == params.__name__}


def test_generated_module_is_what_the_schema_generates():
    assert _generator().generate() == (ROOT / "src" / "petra" / "params.py").read_text(encoding="utf-8"), \
        "src/petra/params.py is out of date: run python tools/gen_params.py"


def test_every_schema_property_is_a_dataclass_field_and_every_field_a_schema_property():
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "params.schema.yaml").read_text())
    objects, classes = _schema_objects(schema), _classes()
    assert set(objects) == set(classes), set(objects) ^ set(classes)
    for path, props in objects.items():
        assert [f.name for f in dataclasses.fields(classes[path])] == props, path
        hints = typing.get_type_hints(classes[path])
        for key in props:  # a nested object's field is typed as that object's class
            if path and f"{path}.{key}" in classes or not path and key in classes:
                assert hints[key] is classes[f"{path}.{key}" if path else key]
    # 18 sections, each a class (the top level's profile and seed are plain values)
    sections = [k for k in objects[""] if k not in ("profile", "seed")]
    assert len(sections) == 18 and all(s in classes for s in sections)


@pytest.mark.parametrize("profile", PROFILES)
def test_params_yaml_gives_every_key_of_every_profile_a_value(profile):
    cfg = config.load(ROOT / "params.yaml", profile)
    p = config.build(params.Params, cfg, fill=False)  # no filling: params.yaml alone is complete
    assert p.profile == profile
    assert p == config.load_params(ROOT / "params.yaml", profile)
    # the values are the dict's, typed: lists become tuples, numbers floats, objects dataclasses
    assert p.train.sg2.crop == tuple(cfg["train"]["sg2"]["crop"]) and isinstance(p.train.sg2.crop, tuple)
    assert isinstance(p.mesh.expression_scale, float) and p.mesh.expression_scale == cfg["mesh"]["expression_scale"]
    assert p.mesh.smoothing.method == cfg["mesh"]["smoothing"]["method"]
    assert p.evaluate.backends.pose == cfg["evaluate"]["backends"]["pose"]
    assert dict(p.train.variants) == cfg["train"]["variants"] and dict(p.train_mesh.train) == cfg["train_mesh"]["train"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.mesh.size = 512  # type: ignore[misc]


def test_a_missing_key_takes_the_params_yaml_value_and_nothing_else_does():
    default = config.load(ROOT / "params.yaml", "sample")["mesh"]
    m = config.build(params.Mesh, {"size": 512, "smoothing": {"method": "none"}})
    assert (m.size, m.smoothing.method) == (512, "none")
    assert m.smoothing.beta == default["smoothing"]["beta"] and m.max_yaw == default["max_yaw"]
    with pytest.raises(PetraError, match=r"section mesh: mesh/size: missing"):
        config.build(params.Mesh, {k: v for k, v in default.items() if k != "size"}, fill=False)


@pytest.mark.parametrize("section, data, where", [
    ("mesh", {"sise": 512}, r"section mesh: mesh/sise: unknown key 'sise'"),
    ("mesh", {"smoothing": {"metod": "none"}}, r"section mesh: mesh/smoothing: .*'metod'"),
    ("train_mesh.refine", {"data": {"sorce": "clips"}}, r"section train_mesh: train_mesh/refine/data: .*'sorce'"),
    ("train_mesh.refine", {"weights": {"l3": 1.0}}, r"section train_mesh: train_mesh/refine/weights: .*'l3'"),
    ("train_mesh.refine", {"init": "pretrained"}, r"section train_mesh: train_mesh/refine/init: 'pretrained'"),
    ("train", {"variants": {"ours": {"stpes": 3}}}, r"section train: train/variants/ours: .*'stpes'"),
    ("train_mesh", {"variants": {"ours-gen": {"train": {"lr_": 1.0}}}},
     r"section train_mesh: train_mesh/variants/ours-gen/train: .*'lr_'"),
    ("evaluate.backends", {"pose": "hopnet"}, r"section evaluate: evaluate/backends/pose: 'hopnet'"),
])
def test_a_bad_key_or_value_anywhere_is_one_line_naming_section_and_key(section, data, where):
    with pytest.raises(PetraError, match=where) as err:
        config.build(_classes()[section], data)
    assert "\n" not in str(err.value)


def test_the_schema_still_refuses_a_misspelt_key_inside_a_variant_when_loading(tmp_path):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["train_mesh"]["variants"]["ours-gen"]["refine"] = {"widht": 8}
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(PetraError, match=r"section train_mesh: train_mesh/variants/ours-gen/refine: .*'widht'"):
        config.load_params(bad)


def test_train_options_are_the_loop_keys_the_strict_schema_gives_train_mesh_train():
    from petra.train.options import LOOP_KEYS, TrainOptions

    strict = config.strict_schema(yaml.safe_load((ROOT / "workflow" / "schemas" / "params.schema.yaml").read_text()))
    assert list(LOOP_KEYS) == list(strict["properties"]["train_mesh"]["properties"]["train"]["properties"])
    train = config.load(ROOT / "params.yaml", "sample")["train"]
    o = TrainOptions.from_params({"variant": "toy", "steps": 6, "weights": {"l2": 1.0}})  # recipe keys are not its
    assert (o.variant, o.steps) == ("toy", 6) and all(getattr(o, k) == train[k] for k in LOOP_KEYS if k != "steps")
    with pytest.raises(PetraError, match=r"train/optimizer: 'sgd'"):
        TrainOptions.from_params({"variant": "toy", "optimizer": "sgd"})


def test_the_mesh_recipe_options_refuse_an_unknown_key_naming_its_section_or_variant():
    """MeshOptions is strict like the rest: a dead key (the idw warp's ``warp_grid``, in a run's or an old
    checkpoint's train_mesh) or a misspelt variant override is one line naming it and its place."""
    from petra.generators.mesh.recipe import MeshOptions
    from petra.generators.mesh.train_params import mesh_variant_params

    with pytest.raises(PetraError, match=r"^params: section train_mesh: train_mesh/warp_grid: unknown key 'warp_grid'") as err:
        MeshOptions.from_params({"warp_grid": 48})
    assert "\n" not in str(err.value)
    cfg = config.load(ROOT / "params.yaml", "sample")  # a dict not re-validated: the variant entry is checked here
    cfg["train_mesh"]["variants"]["ours"] = {"hiden": 32}
    with pytest.raises(PetraError, match=r"section train_mesh: train_mesh/variants/ours/hiden: unknown key 'hiden'"):
        mesh_variant_params(cfg, "ours")
    cfg["train_mesh"]["variants"]["ours"] = {"inference": "sideways"}
    with pytest.raises(PetraError, match=r"train_mesh/variants/ours/inference: 'sideways'"):
        mesh_variant_params(cfg, "ours")


@pytest.mark.parametrize("profile", PROFILES)
def test_the_typed_readers_give_the_values_of_the_plain_dict(profile):
    """MeshConfig, TrainOptions, MeshOptions, RefineOptions, DataOptions, SG2Options, the evaluator backends: every
    value equals the dict's value (what the hand-written readers copied before)."""
    from petra.evaluate.analyzer import configured_backends
    from petra.generators.mesh.refine.data import DataOptions
    from petra.generators.mesh.recipe import MeshOptions
    from petra.generators.mesh.refine.recipe import RefineOptions
    from petra.generators.mesh.render.transfer import MeshConfig
    from petra.generators.mesh.train_params import mesh_variant_params
    from petra.generators.stylegan2 import variant_params
    from petra.generators.stylegan2.recipe import SG2Options
    from petra.train.options import LOOP_KEYS, TrainOptions

    cfg = config.load(ROOT / "params.yaml", profile)
    mesh = cfg["mesh"]
    flat = {**{k: v for k, v in mesh.items() if k not in ("method", "smoothing")},
            **{k: mesh["smoothing"][k] for k in ("min_cutoff", "beta", "d_cutoff")}, "smoothing": mesh["smoothing"]["method"]}
    assert dataclasses.asdict(MeshConfig.from_params(cfg)) == flat
    over = MeshConfig.from_params(cfg, size=512, smoothing="none", mode=None)
    assert (over.size, over.smoothing, over.mode) == (512, "none", mesh["mode"])
    for name, p in [*((v, variant_params(cfg, v)) for v in cfg["train"]["variants"]),
                    *((v, mesh_variant_params(cfg, v)) for v in cfg["train_mesh"]["variants"])]:
        assert dataclasses.asdict(TrainOptions.from_params(p)) == {"variant": name, **{k: p[k] for k in LOOP_KEYS}}
    for v in cfg["train"]["variants"]:
        p = variant_params(cfg, v)
        o = SG2Options.from_params(p)
        assert (o.motion_encoder, o.mapping_order, o.mapping_init, list(o.crop), o.id_input, o.noise) == (
            p["sg2"]["motion_encoder"], p["sg2"]["mapping"]["order"], p["sg2"]["mapping"]["init"], p["sg2"]["crop"],
            p["sg2"]["id_input"], p["sg2"]["noise"])
        assert (o.cosface, o.cos_a, o.cos_b) == (p["cosface"]["form"], p["cosface"]["a"], p["cosface"]["b"])
    for v in cfg["train_mesh"]["variants"]:
        p = mesh_variant_params(cfg, v)
        if p["train_mesh"].get("recipe", "mesh") != "mesh":
            continue
        m = MeshOptions.from_params(p["train_mesh"], p["cosface"])
        assert dataclasses.asdict(m) == {**{k: p["train_mesh"][k] for k in ("motion_dim", "hidden", "id_dim", "inference",
                                                                            "fits", "weights")},
                                         "cos_a": p["cosface"]["a"], "cos_b": p["cosface"]["b"]}
    refine = cfg["train_mesh"]["refine"]
    r = RefineOptions.from_params(refine)
    assert {k: v for k, v in dataclasses.asdict(r).items() if k != "data"} == {k: v for k, v in refine.items() if k != "data"}
    assert dataclasses.asdict(r.data) == {**refine["data"], "splits": tuple(refine["data"]["splits"])}
    assert r.data == config.build(DataOptions, refine["data"]) and r.w("keep") == refine["weights"]["keep"]
    assert dataclasses.asdict(configured_backends(cfg)) == cfg["evaluate"]["backends"]
