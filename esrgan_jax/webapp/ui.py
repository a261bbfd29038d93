"""The page (Gradio Blocks) over an `Upscaler`, and how it is served: loopback by default, no share link, uploads
capped, one computation at a time for the whole page (a queue that shows each waiting user its position).

Every function of the page is also an API endpoint (`gradio_client.Client(url).view_api()`): `/upscale` and
`/niqe_curve`.
"""

import functools
import os

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')  # no calls home, before gradio is imported

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402  (installed with gradio: LinePlot takes a DataFrame)

from esrgan_jax.data.image_io import IMAGE_EXTENSIONS  # noqa: E402
from esrgan_jax.webapp.service import COMPARE_ALPHA0, COMPARE_BICUBIC, Upscaler  # noqa: E402

NO_BLEND = '(none)'
CURVE_ALPHAS = tuple(i / 10 for i in range(11))  # α of the NIQE curve
DEVICE = 'device'  # the one concurrency group of every computation
# gradio hands these defaults to its handlers with the event's progress bar attached (one instance per kind, as in
# gradio's own examples, where the default is made when the function is defined).
TQDM_PROGRESS = gr.Progress(track_tqdm=True)  # tiled renders' tqdm bars become the page's progress bar
PROGRESS = gr.Progress()
INTRO = """### esrgan_jax: upscale, and slide between two models
Drop an image, pick a model, or two of one architecture (ESRGAN's PSNR and GAN generators, or a Compact model and
its `wdn` twin) and slide **α** (ESRGAN's network interpolation; Real-ESRGAN's denoise strength): the blend happens
on the device and nothing recompiles. Drag the divider to compare with bicubic or with α = 0."""


def _errors_on_page(function):
  """Shows the message of a ValueError/OSError (bad file, limits, incompatible models) on the page; the app goes on
  serving."""

  @functools.wraps(function)  # gradio reads the signature: inputs and the gr.Progress default
  def wrapped(*args, **kwargs):
    try:
      return function(*args, **kwargs)
    except (ValueError, OSError) as e:
      raise gr.Error(str(e), print_exception=False) from e

  return wrapped


def _second(blend_with: str | None) -> str | None:
  """The second model's name, None for no blend."""
  return None if blend_with in (None, NO_BLEND) else blend_with


def build(upscaler: Upscaler) -> gr.Blocks:
  """The page over `upscaler`'s model folder."""
  names = upscaler.models.names
  first, second = upscaler.models.default_pair()

  @_errors_on_page
  def upscale(image, model, blend_with, alpha, compare, zoom_x, zoom_y, zoom, reference, progress=TQDM_PROGRESS):
    """Upscales `image` with `model`, or its blend with `blend_with` at `alpha`; returns the comparison, the zoomed
    crop, the report (markdown) and the full-resolution PNG."""
    del progress  # tiled renders report through tqdm, which gr.Progress tracks
    if not image:
      return None, None, 'Upload an image to start.', None
    view = upscaler.view(image, model, _second(blend_with), alpha, compare, (zoom_x, zoom_y, zoom), reference or None)
    return (view.before, view.after), (view.zoom_before, view.zoom_after), view.report, str(view.download)

  @_errors_on_page
  def niqe_curve(image, model, blend_with, progress=PROGRESS):
    """NIQE of the output against α (0, 0.1, ..., 1) for `image`: the perception side of the trade-off (an upload
    has no HR image, so no PSNR)."""
    step = lambda alphas: progress.tqdm(alphas, desc='α')
    rows = upscaler.niqe_curve(image, model, _second(blend_with), CURVE_ALPHAS, step=step)
    scored = [(alpha, value) for alpha, value in rows if isinstance(value, float)]
    if not scored:
      raise ValueError(f'No NIQE for this image: {rows[0][1]}')
    best = min(scored, key=lambda row: row[1])
    note = f'Lowest NIQE {best[1]:.3f} at α = {best[0]:.1f} ({model} → {blend_with}).'
    return pd.DataFrame(scored, columns=['alpha', 'NIQE']), note

  with gr.Blocks(title='esrgan_jax') as page:
    gr.Markdown(INTRO)
    with gr.Row():
      with gr.Column(scale=1):
        image = gr.File(
          label='Image (PNG, JPEG, WebP, TIFF, BMP; 16-bit and alpha kept)',
          file_types=list(IMAGE_EXTENSIONS),
          elem_id='image',
        )
        model = gr.Dropdown(names, value=first, label='Model (α = 0)', elem_id='model')
        blend_with = gr.Dropdown(
          [NO_BLEND, *names], value=second or NO_BLEND, label='Blend with (α = 1)', elem_id='blend'
        )
        alpha = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label='α / denoise strength', elem_id='alpha')
        compare = gr.Radio([COMPARE_BICUBIC, COMPARE_ALPHA0], value=COMPARE_BICUBIC, label='Compare with')
        with gr.Accordion('Zoom', open=False):
          zoom_x = gr.Slider(0, 100, value=50, step=1, label='x (%)')
          zoom_y = gr.Slider(0, 100, value=50, step=1, label='y (%)')
          zoom = gr.Slider(1, 16, value=4, step=1, label='zoom')
        reference = gr.File(
          label='HR reference (optional): PSNR and LPIPS of both sides', file_types=list(IMAGE_EXTENSIONS)
        )
        download = gr.File(label='Full-resolution PNG', elem_id='download')
      with gr.Column(scale=2):
        comparison = gr.ImageSlider(label='Before | after', format='png', elem_id='comparison', max_height=640)
        report = gr.Markdown('Upload an image to start.', elem_id='report')
        zoomed = gr.ImageSlider(label='Zoom', format='png', elem_id='zoomed')
        curve_button = gr.Button('Plot NIQE against α', elem_id='curve_button')
        curve = gr.LinePlot(x='alpha', y='NIQE', title='NIQE of the output against α (lower is better)')
        curve_note = gr.Markdown()
    inputs = [image, model, blend_with, alpha, compare, zoom_x, zoom_y, zoom, reference]
    gr.on(
      [image.change, model.change, blend_with.change, alpha.change, compare.change, reference.change]
      + [zoom_x.release, zoom_y.release, zoom.release],
      upscale,
      inputs,
      [comparison, zoomed, report, download],
      api_name='upscale',
      concurrency_id=DEVICE,
      concurrency_limit=1,
      trigger_mode='always_last',
    )
    curve_button.click(
      niqe_curve,
      [image, model, blend_with],
      [curve, curve_note],
      api_name='niqe_curve',
      concurrency_id=DEVICE,
      concurrency_limit=1,
    )
  return page.queue(default_concurrency_limit=1)


def launch(page: gr.Blocks, host: str, port: int, max_file_size: int):
  """Serves `page` on http://host:port from a background thread (`page.block_thread()` waits, `page.close()` stops):
  never a public share link, uploads above `max_file_size` bytes refused, no file served but the page's own."""
  page.launch(
    server_name=host,
    server_port=port,
    share=False,
    max_file_size=max_file_size,
    allowed_paths=[],
    ssr_mode=False,
    quiet=True,
    prevent_thread_lock=True,
    footer_links=['api'],
  )
