"""Swap models: the DF and LIAE autoencoders of DeepFaceLab's SAEHD, trained on device.

Modules
-------
``config``      ModelConfig (shape), TrainConfig (settings), presets, ``liae-udt`` parsing
``request``     TrainRequest: the ``train_swap`` job's parameters and their resolution
``layers``      conv blocks, encoder, inter, decoder
``archs``       DF and LIAE (one interface: train forward, swap, dst reconstruction)
``losses``      masked two-scale DSSIM + MSE, eyes/mouth priority, mask loss, style terms
``color``       HSV jitter, Lab, masked Reinhard, lct/mkl/idt/sot transfers (batched torch)
``augment``     random warp, affine, flip, colour, blur/JPEG/downsample on the device
``dataset``     face sets from the project as uint8 tensors; pose-uniform sampler
``facestore``   face packs on disk and a device face cache within a memory budget
``options``     DeepFaceLab's SAEHD option set under its own names (ranges, help)
``discriminators`` GAN patch and true-face code discriminators, their optimisers
``pretrained``  start a new model from a pretrained one (encoder and inter kept)
``optim``       AdaBelief, AdamW choice, warm-up/cosine schedule, collapse guard
``trainer``     Trainer: model, optimiser, batches, one step, exact state
``checkpoint``  atomic safetensors/JSON/weights-only checkpoints with rotation (shared
                with the XSeg trainer)
``session``     the job's loop: model rows, timers, previews, metrics, rollbacks
``runtime``     glibc allocator tuning while training on CPU (40-50 % faster steps)
``ddp``         multi-device training through torchrun (NCCL on GPUs, gloo on CPU)
``inference``   SwapModel: a loaded model that swaps batches of dst crops (merge)
``cli``         ``facesmith train``

Importing this package is cheap (no torch); the job kind imports the heavy parts lazily.
"""
