"""The projection runner, one module per read model, and the queries over them."""
