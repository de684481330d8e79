/*
 * wipe - make every cJSON allocation in the worker zero itself on free.
 * Secret bodies pass through cJSON (base64 values, PUT bodies); with
 * these hooks no freed heap block keeps a copy.
 */
#ifndef PAMOP_WIPE_H
#define PAMOP_WIPE_H

void wipe_install_cjson_hooks(void);

#endif
