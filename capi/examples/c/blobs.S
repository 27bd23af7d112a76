/* The model and the WAV the example tags, embedded as read-only data. MODEL_FILE and
 * SCENE_FILE are string literals given on the command line (run-qemu-c.sh). */
    .section .rodata.matpac_blobs, "a"
    .balign 4
    .global matpac_model, matpac_model_end
matpac_model:
    .incbin MODEL_FILE
matpac_model_end:
    .balign 4
    .global matpac_scene, matpac_scene_end
matpac_scene:
    .incbin SCENE_FILE
matpac_scene_end:
