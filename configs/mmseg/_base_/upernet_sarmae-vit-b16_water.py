# The UPerNet of upernet_sarmae-vit-b16.py for water vs background, as the published
# AIR-PolSAR-Seg water recipe: two classes, class weights 0.3 / 3.0 in both cross-entropies,
# Dice weight 1.5.
_base_ = './upernet_sarmae-vit-b16.py'
class_weight = [0.3, 3.0]
model = dict(
    decode_head=dict(num_classes=2, loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
             class_weight=class_weight),
        dict(type='DiceLoss', naive_dice=False, loss_weight=1.5)]),
    auxiliary_head=dict(num_classes=2, loss_decode=dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4, class_weight=class_weight)))
