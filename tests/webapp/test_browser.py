"""End-to-end test of the web app in headless Chromium: upload, wait for the output, check its size, move α, see
the output change, upload a non-image and see the error on the page, save a screenshot."""

import re

import pytest
from app_helpers import INPUT_SIZE
from browser import MISSING_REASON, chromium_paths, images_of, start_chromium, upload, wait_for

pytestmark = pytest.mark.browser
if chromium_paths() is None:
  pytest.skip(MISSING_REASON, allow_module_level=True)
pytest.importorskip('selenium')

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

OUT_WIDTH, OUT_HEIGHT = INPUT_SIZE[1] * 4, INPUT_SIZE[0] * 4


@pytest.fixture
def driver(tmp_path):
  chromium = start_chromium(tmp_path / 'profile')
  yield chromium
  chromium.quit()


def report_text(driver) -> str:
  return driver.find_element(By.ID, 'report').text


def test_upload_slide_alpha_error_and_screenshot(server, driver, image_files, tmp_path):
  driver.get(server[0])
  upload(driver, 'image', image_files['rgb'])
  wait_for(lambda: 'α = 0.50' in report_text(driver), what='the first render')
  first = wait_for(lambda: images_of(driver, 'comparison'), what='the comparison images')
  assert {(image['width'], image['height']) for image in first} == {(OUT_WIDTH, OUT_HEIGHT)}
  assert re.search(r'Render: \d+\.\d\d s, \d+ compilations', report_text(driver))

  slider = driver.find_element(By.CSS_SELECTOR, '#alpha input[type=range]')
  slider.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)  # 0.5 -> 0.7
  wait_for(lambda: 'α = 0.70' in report_text(driver), what='the render at α = 0.7')
  assert 'Render: ' in report_text(driver) and ', 0 compilations' in report_text(driver)
  moved = wait_for(
    lambda: (
      {i['src'] for i in images_of(driver, 'comparison')} - {i['src'] for i in first}
      and images_of(driver, 'comparison')
    ),
    what='the new output',
  )
  after = [image for image in moved if image['src'] not in {i['src'] for i in first}]
  assert after and all((image['width'], image['height']) == (OUT_WIDTH, OUT_HEIGHT) for image in after)  # new bytes
  download = driver.find_element(By.CSS_SELECTOR, '#download a')
  assert download.get_attribute('href').endswith('rgb_tiny_psnr_tiny_gan_a0.70.png')

  driver.find_element(By.CSS_SELECTOR, '#image button[aria-label="Clear"]').click()
  wait_for(lambda: 'Upload an image to start.' in report_text(driver), what='the cleared page')
  upload(driver, 'image', image_files['bad'])
  wait_for(
    lambda: 'bad.png: not a PNG, JPEG, BMP, TIFF or WebP file' in driver.find_element(By.TAG_NAME, 'body').text,
    what='the error message on the page',
  )

  shot = tmp_path / 'app.png'
  assert driver.save_screenshot(str(shot))
  assert shot.read_bytes().startswith(b'\x89PNG') and shot.stat().st_size > 10_000
