"""The buyer portal: sign-in by e-mailed link, purchases, download links, license machines."""
