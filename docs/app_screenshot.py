"""Takes docs/webapp.md's screenshot of the web app: `python docs/app_screenshot.py --models DIR --out docs/app.png`.

Serves `python -m esrgan_jax.app --models DIR` in this process, opens it in headless Chromium with the browser test's
helpers (tests/webapp/browser.py), uploads a crop of scikit-image's `chelsea` photo, sets α to `--alpha` and saves
the window as a palette PNG. DIR should hold a PSNR and a GAN model of one architecture (names with 'psnr' and
'gan' are paired by default).
"""

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests' / 'webapp'))

from browser import images_of, start_chromium, upload, wait_for  # noqa: E402


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--models', required=True, type=Path)
  parser.add_argument('--out', type=Path, default=ROOT / 'docs' / 'app.png')
  parser.add_argument('--alpha', type=float, default=0.8, help='α shown (a multiple of 0.05)')
  args = parser.parse_args()

  import skimage.data  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.common.keys import Keys  # pylint: disable=g-import-not-at-top

  from esrgan_jax import app, runtime  # pylint: disable=g-import-not-at-top

  runtime.use_fast_cpu_flags()
  work = Path(tempfile.mkdtemp(prefix='app_screenshot_'))
  photo = work / 'chelsea.png'
  Image.fromarray(skimage.data.chelsea()[30:190, 110:350]).save(photo)  # the cat's face, 240x160
  page = app.start(['--models', str(args.models)])
  driver = start_chromium(work / 'profile', 1400, 1000)
  try:
    driver.get(page.local_url)
    upload(driver, 'image', photo)
    report = lambda: driver.find_element(By.ID, 'report').text
    wait_for(lambda: 'α = 0.50' in report(), 600, 'the first render')
    number = driver.find_element(By.CSS_SELECTOR, '#alpha input[type=number]')
    number.send_keys(Keys.CONTROL, 'a')
    number.send_keys(f'{args.alpha:g}', Keys.ENTER)  # one change event, one render
    wait_for(lambda: f'α = {args.alpha:.2f}' in report(), 600, f'the render at α = {args.alpha}')
    idle = lambda: 'processing' not in driver.find_element(By.TAG_NAME, 'body').text
    wait_for(lambda: idle() and len(images_of(driver, 'comparison')) == 2, 600, 'the comparison images')
    driver.save_screenshot(str(work / 'window.png'))
    shown = report()
  finally:
    driver.quit()
    page.close()
  Image.open(work / 'window.png').convert('RGB').quantize(256).save(args.out, optimize=True)
  print(f'wrote {args.out} ({args.out.stat().st_size // 1024} KiB); the page said:\n{shown}')


if __name__ == '__main__':
  main()
