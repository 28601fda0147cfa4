"""The pitch-angle aggregation options through the real 'hpcbelt aggregate' parser: defaults,
every flag, bad values, and the options_json stored in every summary (a contract)."""

import pytest

from hpcbelt import studies
from hpcbelt.aggregate import files
from hpcbelt.aggregate.watt2021 import AGGREGATOR
from hpcbelt.aggregate.watt2021.options import Options, options
from hpcbelt.cli import build_parser
from hpcbelt.errors import InputError

pytestmark = pytest.mark.unit

# options_json of these options as the summaries have always stored it (before the move to
# hpcbelt/aggregate/watt2021): field names and values are part of the summary file
DEFAULT_JSON = ('{"alpha_deg": 30.0, "bins": null, "checksum": true, "confidence": 0.9, "days": null, '
                '"ensemble_sizes": null, "fig3_days": 5.0, "fig3_experiment": null, "fig3_member": null, '
                '"floor_f": 100.0, "memory_bytes": 268435456, "n_bins": 80, "n_boot": 1000, "n_sub": 200, '
                '"ratio_alphas_deg": [30.0, 45.0, 60.0, 70.0], "seed": 0}')
GIVEN = ["--days", "1,2.5", "--bins", "1,4,30", "--ensemble-sizes", "1,5,10", "--memory-mb", "0.5",
         "--no-checksum", "--fig3-member", "3", "--ratio-alpha-deg", "20,40"]
GIVEN_JSON = ('{"alpha_deg": 30.0, "bins": [1.0, 4.0, 30], "checksum": false, "confidence": 0.9, '
              '"days": [1.0, 2.5], "ensemble_sizes": [1, 5, 10], "fig3_days": 5.0, "fig3_experiment": null, '
              '"fig3_member": 3, "floor_f": 100.0, "memory_bytes": 524288, "n_bins": 80, "n_boot": 1000, '
              '"n_sub": 200, "ratio_alphas_deg": [20.0, 40.0], "seed": 0}')


def parse(*flags):
    return build_parser().parse_args(["aggregate", "run.h5", *flags])


def test_registered_for_pitch_angle_runs():
    assert studies.aggregator_for("pitch_angle", "run.h5") is AGGREGATOR
    assert AGGREGATOR.get("inspect").__module__ == "hpcbelt.pitch_angle.runfile"


def test_defaults_and_options_json_unchanged():
    assert options(None) == Options() == options(parse())
    assert files.options_json(options(parse())) == DEFAULT_JSON


def test_every_flag_reaches_its_field():
    assert files.options_json(options(parse(*GIVEN))) == GIVEN_JSON
    o = options(parse("--alpha-deg", "45", "--n-bins", "12", "--bootstrap", "0", "--subsets", "7",
                      "--confidence", "0.5", "--seed", "4", "--fig3-experiment", "drand_6h",
                      "--fig3-days", "2", "--floor", "10"))
    assert (o.alpha_deg, o.n_bins, o.n_boot, o.n_sub, o.confidence, o.seed) == (45.0, 12, 0, 7, 0.5, 4)
    assert (o.fig3_experiment, o.fig3_days, o.floor_f, o.checksum) == ("drand_6h", 2.0, 10.0, True)


@pytest.mark.parametrize("flags, words", [
    (["--days", "1,x"], "--days '1,x': expected comma-separated numbers"),
    (["--bins", "1,2"], "--bins '1,2': expected 3 comma-separated numbers"),
    (["--bins", "1,2,3.5"], "N must be an integer"),
    (["--floor", "0"], "--floor and --fig3-days: expected positive values"),
    (["--memory-mb", "-1"], "--memory-mb -1: expected a positive size"),
])
def test_bad_values_name_their_flag(flags, words):
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        options(parse(*flags))
