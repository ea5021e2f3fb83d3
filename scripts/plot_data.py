"""Rule plot_data: class-average images and feature distributions of the train split."""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid import io, plots_data  # noqa: E402 (after the log is set up)

settings = snakemake.params.settings
dataset = str(snakemake.wildcards.dataset)
class_names = plots_data.CLASS_NAMES[settings["kind"]]
note = f"{dataset}, train split of {settings['file']}"
y = io.read_array(snakemake.input.y)
weight = io.read_array(snakemake.input.weight)

means = {
    key: plots_data.class_means(io.read_array(snakemake.input[key]), y, weight)
    for key in settings["image_keys"]
}
plots_data.plot_average_images(means, class_names, note).savefig(snakemake.output.images, dpi=110)

columns = plots_data.feature_columns(
    {key: io.read_array(snakemake.input[key]) for key in settings["feature_keys"]}
)
figure = plots_data.plot_feature_distributions(columns, y, weight, class_names, note)
figure.savefig(snakemake.output.features, dpi=110)
